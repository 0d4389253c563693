"""Building model inputs from validated rows.

Features are the validated columns a model may use, plus time parts and the
columns of declared lookup joins. Text columns stay text here; the training step
turns them into the integer codes LightGBM reads as native categoricals, with a
vocabulary learnt on the training window only.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW, WINDOW
from mlops_assets.ingest.sources import read_lookup_table, source_fingerprint
from mlops_assets.specs.model import DatasetSpec, JoinSpec
from mlops_assets.validation.rules import target_source_columns

TIME_PART_EXPRS = {
    "hour": pl.col(EVENT_TIME).dt.hour(),
    "day_of_week": pl.col(EVENT_TIME).dt.weekday(),
    "day_of_month": pl.col(EVENT_TIME).dt.day(),
    "month": pl.col(EVENT_TIME).dt.month(),
    "day_of_year": pl.col(EVENT_TIME).dt.ordinal_day(),
}
INTERNAL_COLUMNS = (EVENT_TIME, PARTITION, WINDOW, SOURCE_ROW)

# How long one cycle of each time part lasts. A part whose cycle the training window does
# not cover at least twice takes values in the test window that training never saw together
# with the rest of the year: it then acts as a time identifier, not as a seasonality.
TIME_PART_CYCLES = {
    "hour": dt.timedelta(days=1),
    "day_of_week": dt.timedelta(days=7),
    "day_of_month": dt.timedelta(days=31),
    "month": dt.timedelta(days=366),
    "day_of_year": dt.timedelta(days=366),
}
DEFAULT_TIME_PARTS = ("hour", "day_of_week", "month")
MIN_CYCLES = 2


def time_parts_covered(
    candidates: tuple[str, ...] | list[str], training_span: dt.timedelta, cycles: int = MIN_CYCLES
) -> list[str]:
    """The candidate time parts whose cycle fits `cycles` times in the training window."""
    return [part for part in candidates if training_span >= cycles * TIME_PART_CYCLES[part]]


def training_span(spec: DatasetSpec, today: dt.date | None = None) -> dt.timedelta:
    """How long the training window of a time-partitioned spec is, from the spec alone.

    With `split.valid_start` it is `time.start .. split.valid_start`; otherwise the share of
    the range `time.start .. time.end` (today when open-ended) left after the validation and
    test fractions.
    """
    time = spec.event_time
    if time is None or time.start is None:
        return dt.timedelta(0)
    if spec.split.valid_start is not None:
        return spec.split.valid_start - time.start
    end = time.end or today or dt.date.today()
    kept = 1 - spec.split.valid_fraction - spec.split.test_fraction
    return (end - time.start) * kept


def spec_time_parts(spec: DatasetSpec, today: dt.date | None = None) -> list[str]:
    """The time parts a spec's features get: its own list, or the defaults its window covers twice."""
    if spec.features.time_parts is not None:
        return list(spec.features.time_parts)
    return time_parts_covered(DEFAULT_TIME_PARTS, training_span(spec, today))


INDEXED_JOIN_ROWS = 1000
"""Up to this many rows, lookup joins look keys up in a dictionary instead of hashing the table."""


@dataclass(frozen=True)
class FeatureTable:
    """Feature rows plus where each candidate feature came from."""

    frame: pl.DataFrame
    lineage: dict[str, str]
    excluded: dict[str, str]

    @property
    def candidates(self) -> list[str]:
        return list(self.lineage)


def excluded_columns(spec: DatasetSpec) -> dict[str, str]:
    """Columns that must never be features, each with the reason."""
    reasons: dict[str, str] = {}
    for column in target_source_columns(spec):
        reasons[column] = "target source (leaks the label)"
    for column in spec.exclude_columns:
        reasons.setdefault(
            column, "excluded by spec (leaks the label or unknown at prediction time)"
        )
    for column in spec.id_columns:
        reasons.setdefault(column, "identifier")
    for column in spec.pii.actions():
        reasons.setdefault(column, "personal data")
    if spec.event_time is not None:
        for column in spec.event_time.source_columns:
            if column == spec.event_time.column:
                reasons.setdefault(column, "timestamp (time parts are used instead)")
    return reasons


@dataclass(frozen=True)
class LookupTable:
    """A lookup table as it is joined: its keys typed like the rows' keys, one row per key
    (the first in key order), its columns prefixed."""

    keys: list[str]
    frame: pl.DataFrame

    @functools.cached_property
    def _columns(self) -> pl.DataFrame:
        return self.frame.drop(self.keys)

    @functools.cached_property
    def _row_of(self) -> dict[tuple, int]:
        return {
            key: row
            for row, key in enumerate(self.frame.select(self.keys).iter_rows())
            if None not in key
        }

    @functools.cached_property
    def _exact_keys(self) -> bool:
        """Keys that compare in Python as in a polars join (no floats, no times)."""
        schema = self.frame.schema
        return all(
            schema[k].is_integer() or schema[k] in (pl.String, pl.Boolean, pl.Date)
            for k in self.keys
        )

    def _indexable(self, frame: pl.DataFrame) -> bool:
        return self._exact_keys and not set(self._columns.columns) & set(frame.columns)

    def joined_to(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` with the table's columns: a left join on the keys (null keys match nothing).

        A few rows (online requests) are looked up in a dictionary of the table's keys,
        built once: a hash join would hash the whole table again for every request. The
        two agree row for row (tests/unit/test_lookup_join.py).
        """
        if frame.height > INDEXED_JOIN_ROWS or not self._indexable(frame):
            return frame.join(self.frame, on=self.keys, how="left", coalesce=True)
        keys = zip(*(frame.get_column(k).to_list() for k in self.keys), strict=True)
        rows = pl.Series([self._row_of.get(key) for key in keys], dtype=pl.UInt32)
        return frame.hstack(self._columns[rows].get_columns())


def lookup_side(join: JoinSpec, key_types: dict[str, pl.DataType]) -> LookupTable:
    """The lookup table of `join` for rows whose keys have `key_types`. Prepared once per
    process and source content, so scoring single rows online does not sort it again for
    every request."""
    missing = [k for k in join.keys if k not in key_types]
    if missing:
        raise ValueError(f"{join.source.uri}: join `{join.name}` key column(s) {missing} not found")
    types = tuple((k, key_types[k]) for k in join.keys)
    return _lookup_side(join.model_dump_json(), source_fingerprint(join.source), types)


@functools.lru_cache(maxsize=32)
def _lookup_side(
    join_json: str, fingerprint: str, key_types: tuple[tuple[str, pl.DataType], ...]
) -> LookupTable:
    join = JoinSpec.model_validate_json(join_json)
    table = read_lookup_table(join.source)
    missing = [c for c in join.keys if c not in table.columns]
    if missing:
        raise ValueError(f"{join.source.uri}: join `{join.name}` key column(s) {missing} not found")
    wanted = join.columns or [c for c in table.columns if c not in join.keys]
    absent = [c for c in wanted if c not in table.columns]
    if absent:
        raise ValueError(f"{join.source.uri}: join `{join.name}` column(s) {absent} not found")
    frame = (
        table.select(
            [pl.col(k).cast(dtype, strict=False) for k, dtype in key_types]
            + [pl.col(c).alias(f"{join.prefix}{c}") for c in wanted]
        )
        .sort(join.keys, nulls_last=True)
        .unique(subset=join.keys, keep="first", maintain_order=True)
    )
    return LookupTable(list(join.keys), frame)


def _join(frame: pl.DataFrame, spec: DatasetSpec, lineage: dict[str, str]) -> pl.DataFrame:
    for join in spec.joins:
        schema = frame.schema
        key_types = {k: schema[k] for k in join.keys if k in schema}
        table = lookup_side(join, key_types)
        for c in table.frame.columns[len(join.keys) :]:
            lineage[c] = (
                f"join `{join.name}` on {', '.join(join.keys)}: {c.removeprefix(join.prefix)}"
            )
        frame = table.joined_to(frame)
    return frame


def build_features(spec: DatasetSpec, validated: pl.DataFrame) -> FeatureTable:
    """Candidate features for each validated row, keyed by the same time columns."""
    excluded = excluded_columns(spec)
    lineage: dict[str, str] = {}
    for column in validated.columns:
        if column in INTERNAL_COLUMNS or column == spec.target.column or column in excluded:
            continue
        description = spec.columns.get(column)
        lineage[column] = (
            f"source column{': ' + description.description if description and description.description else ''}"
        )
    frame = validated
    if spec.event_time is not None and EVENT_TIME in frame.columns:
        parts = {
            f"t_{name}": TIME_PART_EXPRS[name].cast(pl.Int16) for name in spec_time_parts(spec)
        }
        frame = frame.with_columns(**parts)
        for name in parts:
            lineage[name] = f"time part of the event time ({name[2:]})"
    frame = _join(frame, spec, lineage)
    schema = frame.schema
    temporal = [c for c in lineage if schema[c].is_temporal()]
    for column in temporal:
        excluded[column] = "date or time value (time parts are used instead)"
        del lineage[column]
    booleans = [c for c in lineage if schema[c] == pl.Boolean]
    if booleans:
        frame = frame.with_columns([pl.col(c).cast(pl.Int8) for c in booleans])
    keep = [c for c in INTERNAL_COLUMNS if c in frame.columns] + [spec.target.column]
    keep += [c for c in spec.id_columns if c in frame.columns]
    frame = frame[list(dict.fromkeys(keep + list(lineage)))]  # picks columns without a query
    return FeatureTable(
        frame, lineage, {k: v for k, v in excluded.items() if k in validated.columns}
    )


def all_null_features(table: FeatureTable) -> list[str]:
    """Candidate features that are null in every row: a dead feed, not a signal."""
    if table.frame.height == 0:
        return []
    return [c for c in table.candidates if table.frame[c].null_count() == table.frame.height]


def categorical_columns(spec: DatasetSpec, frame: pl.DataFrame, candidates: list[str]) -> list[str]:
    """Text columns, plus numeric ones the spec or a join declares categorical."""
    declared = set(spec.categorical_columns)
    declared |= {c for c, rules in spec.columns.items() if rules.categorical}
    for join in spec.joins:
        declared |= {f"{join.prefix}{c}" for c in join.categorical_columns}
    not_categorical = {c for c, rules in spec.columns.items() if rules.categorical is False}
    return [
        c
        for c in candidates
        if c not in not_categorical and (c in declared or frame.schema[c] == pl.String)
    ]
