"""Train, validation and test windows.

With a time column the split is by time: the test window is the latest data and
nothing from it (or after it) shapes the model; validation sits just before it
and only decides when boosting stops. Without time the split is random but
seeded and keyed on row content, so the same rows land in the same split
whatever order storage returns them in.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW
from mlops_assets.specs.model import DatasetSpec

SPLIT = "_split"
ROW_KEY = "_row_key"
SPLITS = ("train", "valid", "test")


def _time_boundaries(spec: DatasetSpec, partitions: list[dt.date]) -> tuple[dt.date, dt.date]:
    """Where validation and test start: the spec's dates, or fractions of the partitions with data."""
    valid_start, test_start = spec.split.valid_start, spec.split.test_start
    if valid_start and test_start:
        return valid_start, test_start
    if len(partitions) < 3:
        raise ValueError(
            f"spec `{spec.name}`: a time split needs at least 3 partitions with data, found {len(partitions)}"
        )
    n_test = max(1, math.ceil(len(partitions) * spec.split.test_fraction))
    n_valid = max(1, math.ceil(len(partitions) * spec.split.valid_fraction))
    if test_start is None:
        after_valid = [p for p in partitions if valid_start is None or p > valid_start]
        room = len(after_valid) - 1 if valid_start else len(after_valid) - 2
        test_start = after_valid[-max(1, min(n_test, room))] if after_valid else partitions[-1]
    if valid_start is None:
        before_test = [p for p in partitions if p < test_start]
        valid_start = (
            before_test[-max(1, min(n_valid, len(before_test) - 1))] if before_test else test_start
        )
    return valid_start, test_start


def assign_split(spec: DatasetSpec, features: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Add the split column and a content key; return the frame and the windows used."""
    keyed = features.with_columns(
        (features.drop(SPLIT, strict=False).hash_rows(seed=spec.split.seed) // 2)
        .cast(pl.Int64)
        .alias(ROW_KEY)
    )
    if spec.rows_in_time_order:
        return positional_split(spec, keyed)
    if spec.time is not None and PARTITION in keyed.columns:
        partitions = keyed[PARTITION].unique().sort().to_list()
        valid_start, test_start = _time_boundaries(spec, partitions)
        part = pl.col(PARTITION)
        split = (
            pl.when(part >= test_start)
            .then(pl.lit("test"))
            .when(part >= valid_start)
            .then(pl.lit("valid"))
        )
        frame = keyed.with_columns(split.otherwise(pl.lit("train")).alias(SPLIT)).sort(
            EVENT_TIME, ROW_KEY
        )
        windows = {
            "train": f"< {valid_start}",
            "valid": f"{valid_start} .. {test_start}",
            "test": f">= {test_start}",
        }
    else:
        position = (pl.col(ROW_KEY) % 1_000_003).cast(pl.Float64) / 1_000_003
        test, valid = spec.split.test_fraction, spec.split.valid_fraction
        split = (
            pl.when(position < test)
            .then(pl.lit("test"))
            .when(position < test + valid)
            .then(pl.lit("valid"))
        )
        frame = keyed.with_columns(split.otherwise(pl.lit("train")).alias(SPLIT)).sort(ROW_KEY)
        windows = {
            "train": f"random {1 - test - valid:.0%} (seed {spec.split.seed})",
            "valid": f"random {valid:.0%}",
            "test": f"random {test:.0%}",
        }
    counts = dict(frame.group_by(SPLIT).len().iter_rows())
    for name in SPLITS:
        if counts.get(name, 0) == 0:
            raise ValueError(f"spec `{spec.name}`: the {name} split is empty ({windows[name]})")
    return frame, windows


# --- `time.order: rows`: a table with no timestamp whose row order is time -----------------


def positional_split(spec: DatasetSpec, keyed: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Split by source position: the last rows are test, the rows before them validation.

    For a table whose rows are in time order but carry no timestamp, this is the time
    split: nothing from the test rows (or after them) shapes the model.
    """
    if SOURCE_ROW not in keyed.columns:
        raise ValueError(
            f"spec `{spec.name}`: time.order: rows needs the {SOURCE_ROW} column from the raw "
            "asset; re-materialize raw, validated and features"
        )
    ordered = keyed.sort(SOURCE_ROW)
    rows = ordered.height
    n_test = max(1, math.ceil(rows * spec.split.test_fraction))
    n_valid = max(1, math.ceil(rows * spec.split.valid_fraction))
    position = pl.int_range(pl.len())
    split = (
        pl.when(position >= rows - n_test)
        .then(pl.lit("test"))
        .when(position >= rows - n_test - n_valid)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
    )
    frame = ordered.with_columns(split.alias(SPLIT))
    positions = frame.group_by(SPLIT).agg(
        pl.col(SOURCE_ROW).min().alias("lo"), pl.col(SOURCE_ROW).max().alias("hi")
    )
    span = {name: f"source rows {lo} .. {hi}" for name, lo, hi in positions.iter_rows()}
    windows = {name: span.get(name, "none") for name in SPLITS}
    empty = [name for name in SPLITS if name not in span]
    if empty:
        raise ValueError(
            f"spec `{spec.name}`: the {empty[0]} split is empty ({rows} rows in time order)"
        )
    return frame, windows
