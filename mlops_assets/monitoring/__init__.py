"""Prometheus metrics of every spec, read from the Dagster instance and the MLflow registry.

A small exporter process (`mlops exporter`) refreshes a snapshot of each spec's
state in the background (materialization metadata, run counts, the champion
alias) and serves the cached values on `/metrics`. A scrape never touches the
stores, and nothing reads table data: only metadata the assets already record.
"""

from mlops_assets.monitoring.collector import SnapshotCollector
from mlops_assets.monitoring.server import run_exporter

__all__ = ["SnapshotCollector", "run_exporter"]
