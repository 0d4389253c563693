"""What a model version learnt from, so that every number about it is measured on rows it never saw.

A model learns from its training set's train and valid rows (valid decides when
boosting stops). A time-split model has seen nothing after its newest train or
valid row (`trained_through`); a random-split model has seen exactly the rows
whose key is among its train and valid keys, keys computed from the columns it
recorded (`key_columns`). Monitoring, the promotion gate and the backtest all
ask the same question of a window of rows: which of them did this model never see?
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.split import ROW_KEY, SPLIT, is_time_split, row_keys, split_key_columns

TRAINED_THROUGH_TAG = "mlops.trained_through"
KEY_COLUMNS_TAG = "mlops.split_key_columns"
SEED_TAG = "mlops.split_seed"


class ScopeError(ValueError):
    """The rows a model trained on cannot be told apart in this table."""


@dataclass(frozen=True, eq=False)
class TrainingScope:
    """The rows one model version trained on: everything up to a time, or a set of row keys."""

    trained_through: dt.datetime | None = None
    key_columns: tuple[str, ...] = ()
    seed: int = 0
    keys: pl.Series | None = None

    @property
    def by_time(self) -> bool:
        return self.trained_through is not None

    @classmethod
    def of_training_set(cls, spec: DatasetSpec, frame: pl.DataFrame) -> TrainingScope:
        """The scope of a model fitted on `frame`'s train and valid rows (a split training set)."""
        learnt = frame.filter(pl.col(SPLIT) != "test")
        if is_time_split(spec, frame):
            return cls(trained_through=learnt[EVENT_TIME].max())
        columns = split_key_columns(spec, frame.drop(SPLIT, ROW_KEY, strict=False))
        return cls(
            key_columns=tuple(columns),
            seed=spec.split.seed,
            keys=learnt[ROW_KEY].unique().sort(),
        )

    def tags(self) -> dict[str, str]:
        """The scope as model-version tags (the keys themselves stay in the training set)."""
        if self.by_time:
            return {TRAINED_THROUGH_TAG: self.trained_through.isoformat()}
        return {KEY_COLUMNS_TAG: json.dumps(list(self.key_columns)), SEED_TAG: str(self.seed)}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str], learnt_keys: pl.Series | None) -> TrainingScope:
        """Rebuild a recorded scope; `learnt_keys` are the train/valid row keys for a random split."""
        if tags.get(TRAINED_THROUGH_TAG):
            return cls(trained_through=dt.datetime.fromisoformat(tags[TRAINED_THROUGH_TAG]))
        if KEY_COLUMNS_TAG not in tags:
            raise ScopeError("the model version records neither a training cutoff nor split keys")
        return cls(
            key_columns=tuple(json.loads(tags[KEY_COLUMNS_TAG])),
            seed=int(tags.get(SEED_TAG, "0")),
            keys=learnt_keys.unique().sort()
            if learnt_keys is not None
            else pl.Series([], dtype=pl.Int64),
        )

    def seen(self, frame: pl.DataFrame) -> pl.Series:
        """True for each row of `frame` the model trained on."""
        if frame.height == 0:
            return pl.Series("seen", [], dtype=pl.Boolean)
        if self.by_time:
            if EVENT_TIME not in frame.columns:
                raise ScopeError(
                    f"the table has no {EVENT_TIME} to compare with the training cutoff"
                )
            return (frame[EVENT_TIME] <= self.trained_through).fill_null(False).alias("seen")
        missing = [c for c in self.key_columns if c not in frame.columns]
        if missing:
            raise ScopeError(
                f"the model was split on column(s) {missing}, which this table lacks, so the rows "
                "it trained on cannot be found; declare identifying columns in split.key"
            )
        keys = row_keys(frame, list(self.key_columns), self.seed)
        return keys.is_in(self.keys).alias("seen")

    def unseen(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` the model never trained on."""
        return frame.filter(~self.seen(frame))

    def describe(self) -> str:
        if self.by_time:
            return f"trained on rows up to {self.trained_through:%Y-%m-%d %H:%M}"
        size = 0 if self.keys is None else self.keys.len()
        return f"trained on {size:,} rows keyed on {', '.join(self.key_columns) or 'content'}"
