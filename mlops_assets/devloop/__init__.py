"""The local development loop: `mlops dev` starts Dagster, the MLflow UI and the exporter, and stops them all.

`supervisor` runs and stops child processes (no platform imports, so it starts fast);
`services` knows which servers the platform needs and how to start each.
"""
