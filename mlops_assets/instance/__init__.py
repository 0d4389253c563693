"""The Dagster instance's parts for one machine (the embedded default in `dagster.yaml`)."""
