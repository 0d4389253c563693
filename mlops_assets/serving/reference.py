"""What the champion learned from: its training rows, read at the exact recorded version."""

from __future__ import annotations

import functools

import polars as pl
from mlflow.tracking import MlflowClient

from mlops_assets.training.split import SPLIT

REFERENCE_SEED = 13


@functools.lru_cache(maxsize=8)
def _training_rows(
    table_uri: str,
    version: int,
    max_rows: int | None,
    storage_options: tuple[tuple[str, str], ...],
) -> pl.DataFrame:
    frame = (
        pl.scan_delta(table_uri, version=version, storage_options=dict(storage_options) or None)
        .filter(pl.col(SPLIT) == "train")
        .collect()
    )
    if max_rows is not None and frame.height > max_rows:
        frame = frame.sample(n=max_rows, seed=REFERENCE_SEED)
    return frame


def champion_reference(
    client: MlflowClient,
    model_name: str,
    version: str,
    max_rows: int | None,
    storage_options: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, dict[str, float]]:
    """The champion's training rows (sampled with a fixed seed) and its recorded test metrics."""
    model_version = client.get_model_version(model_name, version)
    run = client.get_run(model_version.run_id)
    table_uri = run.data.tags["mlops.training_set_uri"]
    table_version = int(run.data.tags["mlops.training_set_version"])
    test_metrics = {
        k.removeprefix("test_"): v for k, v in run.data.metrics.items() if k.startswith("test_")
    }
    options = tuple(sorted((storage_options or {}).items()))
    return _training_rows(table_uri, table_version, max_rows, options), test_metrics
