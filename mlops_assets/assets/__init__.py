"""Dagster assets built from a dataset spec: one group per spec."""
