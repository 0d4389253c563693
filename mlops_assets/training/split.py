"""Train, validation and test windows: the one rule every model, gate and backtest uses.

With a time column the split is by time: the test window is the latest data and
nothing from it (or after it) shapes the model; validation sits just before it
and only decides when boosting stops. Without time the split is random but
seeded and keyed on what identifies a row: the spec's `split.key`, else its
`id_columns`, else (with a warning in the metadata) the row's content. A key
made of identifiers keeps every row in its split when columns are added to the
table or the features, so two model versions can be judged on rows neither saw.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW, WINDOW
from mlops_assets.specs.model import DatasetSpec

SPLIT = "_split"
ROW_KEY = "_row_key"
SPLITS = ("train", "valid", "test")
KEY_BUCKETS = 1_000_003
PLATFORM_COLUMNS = (SPLIT, ROW_KEY)


def split_key_columns(spec: DatasetSpec, frame: pl.DataFrame) -> list[str]:
    """The columns whose values identify a row: `split.key`, else `id_columns`, else all of them.

    The content fallback reshuffles the random split whenever a column is added;
    the model version records which columns it used, so a later gate can still
    find the rows it trained on.
    """
    declared = list(spec.split.key or spec.id_columns)
    if declared:
        missing = [c for c in declared if c not in frame.columns]
        if missing:
            field = "split.key" if spec.split.key else "id_columns"
            raise ValueError(
                f"spec `{spec.name}`: {field} column(s) {missing} are not in the features table"
            )
        return declared
    return sorted(c for c in frame.columns if c not in PLATFORM_COLUMNS)


def row_keys(frame: pl.DataFrame, columns: list[str], seed: int) -> pl.Series:
    """A stable 63-bit key per row from the values of `columns` (same values, same key)."""
    hashed = frame.select(columns).hash_rows(seed=seed) // 2
    return hashed.cast(pl.Int64).alias(ROW_KEY)


def _time_boundaries(spec: DatasetSpec, partitions: list[dt.date]) -> tuple[dt.date, dt.date]:
    """Where validation and test start: the spec's dates, or fractions of the windows with data."""
    valid_start, test_start = spec.split.valid_start, spec.split.test_start
    if valid_start and test_start:
        return valid_start, test_start
    if len(partitions) < 3:
        raise ValueError(
            f"spec `{spec.name}`: a time split needs at least 3 windows ({spec.time.grain}) with data, found {len(partitions)}"
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


def is_time_split(spec: DatasetSpec, frame: pl.DataFrame) -> bool:
    """Whether `frame` is split by time (a timed spec whose rows carry their partition)."""
    return spec.event_time is not None and window_column(frame) is not None


def window_column(frame: pl.DataFrame) -> str | None:
    """The column holding each row's monitoring window (tables from before windows: the partition)."""
    if WINDOW in frame.columns:
        return WINDOW
    return PARTITION if PARTITION in frame.columns else None


def assign_split(spec: DatasetSpec, features: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Add the split column and the row key; return the frame and the windows used."""
    base = features.drop(PLATFORM_COLUMNS, strict=False)
    key_columns = split_key_columns(spec, base)
    keyed = base.with_columns(row_keys(base, key_columns, spec.split.seed))
    if spec.rows_in_time_order:
        return positional_split(spec, keyed)
    # Rows that share a key (duplicate ids) are ordered by content, so the order is defined.
    order = base.hash_rows(seed=spec.split.seed).alias("_content_order")
    if is_time_split(spec, keyed):
        window = window_column(keyed)
        partitions = keyed[window].unique().sort().to_list()
        valid_start, test_start = _time_boundaries(spec, partitions)
        part = pl.col(window)
        split = (
            pl.when(part >= test_start)
            .then(pl.lit("test"))
            .when(part >= valid_start)
            .then(pl.lit("valid"))
        )
        sort_by = [EVENT_TIME, ROW_KEY, "_content_order"]
        windows = {
            "train": f"< {valid_start}",
            "valid": f"{valid_start} .. {test_start}",
            "test": f">= {test_start}",
        }
    else:
        position = (pl.col(ROW_KEY) % KEY_BUCKETS).cast(pl.Float64) / KEY_BUCKETS
        test, valid = spec.split.test_fraction, spec.split.valid_fraction
        split = (
            pl.when(position < test)
            .then(pl.lit("test"))
            .when(position < test + valid)
            .then(pl.lit("valid"))
        )
        sort_by = [ROW_KEY, "_content_order"]
        keyed_on = ", ".join(key_columns) if spec.split.key or spec.id_columns else "row content"
        windows = {
            "train": f"random {1 - test - valid:.0%} (seed {spec.split.seed}, keyed on {keyed_on})",
            "valid": f"random {valid:.0%}",
            "test": f"random {test:.0%}",
        }
    frame = (
        keyed.with_columns(split.otherwise(pl.lit("train")).alias(SPLIT), order)
        .sort(sort_by)
        .drop("_content_order")
    )
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
