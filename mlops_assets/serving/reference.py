"""What the champion learnt from: its training rows, scope and test profile, read as recorded.

A model version records its training set (table and Delta version), which rows
it learnt from (`TrainingScope` tags), the newest row of that training set and
its test metrics, among them its per-window metric profile. Monitoring and the
gate read them here, at the exact recorded version.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from mlops_assets.policy.retraining import Expectations
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import ROW_KEY, SPLIT

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

REFERENCE_SEED = 13
DATA_THROUGH_TAG = "mlops.data_through"
EXPECTATIONS_FILE = "expectations.json"


@dataclass(frozen=True, eq=False)
class ChampionRecord:
    """A registered version as monitoring and the gate need it."""

    version: str
    run_id: str
    test_metrics: dict[str, float]
    scope: TrainingScope
    data_through: dt.datetime | None
    table_uri: str
    table_version: int
    storage_options: tuple[tuple[str, str], ...] = ()

    @property
    def training_set(self) -> str:
        return f"{self.table_uri}@v{self.table_version}"

    def training_rows(self, max_rows: int | None) -> pl.DataFrame:
        """The train split it learnt from (what drift compares with), sampled with a fixed seed."""
        return _training_rows(self.table_uri, self.table_version, max_rows, self.storage_options)

    def expectations(self, metric_name: str) -> Expectations:
        """What monitoring expects of a window: the version's own test windows, else its test metric."""
        fallback = self.test_metrics.get(metric_name)
        if fallback is not None and math.isnan(fallback):
            fallback = None
        return Expectations.from_dict(_recorded_expectations(self.run_id), fallback)


@functools.lru_cache(maxsize=16)
def _recorded_expectations(run_id: str) -> dict | None:
    """The version's `evaluation/expectations.json`, written by its evaluation (None before it)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/{EXPECTATIONS_FILE}")
    except (MlflowException, OSError):
        return None


def _options(storage_options: dict[str, str] | None) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def reference_sample(train_rows: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    """The training rows drift compares with: all of them, or a fixed-seed sample of `max_rows`."""
    if max_rows is not None and train_rows.height > max_rows:
        return train_rows.sample(n=max_rows, seed=REFERENCE_SEED)
    return train_rows


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
    return reference_sample(frame, max_rows)


@functools.lru_cache(maxsize=8)
def learnt_keys(
    table_uri: str, version: int, storage_options: tuple[tuple[str, str], ...]
) -> pl.Series:
    """The row keys of a training set version's train and valid rows."""
    return (
        pl.scan_delta(table_uri, version=version, storage_options=dict(storage_options) or None)
        .filter(pl.col(SPLIT) != "test")
        .select(ROW_KEY)
        .collect()[ROW_KEY]
    )


def scope_of(tags: dict[str, str], storage_options: dict[str, str] | None = None) -> TrainingScope:
    """The recorded training scope of a model version, from its training run's tags."""
    keys = None
    if not tags.get("mlops.trained_through"):
        keys = learnt_keys(
            tags["mlops.training_set_uri"],
            int(tags["mlops.training_set_version"]),
            tuple(sorted((storage_options or {}).items())),
        )
    return TrainingScope.from_tags(tags, keys)


def champion_record(
    client: MlflowClient,
    model_name: str,
    version: str,
    storage_options: dict[str, str] | None = None,
) -> ChampionRecord:
    """What version `version` of `model_name` recorded about its training and its test."""
    model_version = client.get_model_version(model_name, version)
    run = client.get_run(model_version.run_id)
    tags = dict(run.data.tags)
    table_uri = tags["mlops.training_set_uri"]
    table_version = int(tags["mlops.training_set_version"])
    test_metrics = {
        k.removeprefix("test_"): v for k, v in run.data.metrics.items() if k.startswith("test_")
    }
    options = tuple(sorted((storage_options or {}).items()))
    through = tags.get(DATA_THROUGH_TAG)
    return ChampionRecord(
        version=str(version),
        run_id=model_version.run_id,
        test_metrics=test_metrics,
        scope=scope_of(tags, _options(storage_options)),
        data_through=dt.datetime.fromisoformat(through) if through else None,
        table_uri=table_uri,
        table_version=table_version,
        storage_options=options,
    )
