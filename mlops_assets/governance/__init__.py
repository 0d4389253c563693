"""Governance: the model card of every model version and the audit trail of the champion.

Both are read from what the platform already records (Dagster asset events and
run tags, MLflow runs, artifacts and model-version tags); nothing here trains,
scores or moves an alias.
"""
