"""Turning a source into the raw batch of one partition window.

A raw batch is the source as it was read, plus when each row happened
(`_event_time`) and which partition it belongs to (`_partition`), with personal
data already dropped or keyed-hashed so that none is ever stored.

The ingestion contract: every source row is accounted for exactly once. It is
in this batch (and so ends validated or rejected), or it is counted as outside
the window, by reason: before `time.start`, at or after `time.end`, or in a
partition this run does not cover. A row whose time is missing or does not
parse belongs to no window: it is put in the batch of the run that covers the
spec's first partition, where validation rejects it (rule `time.format`,
`time.parts`, `time.hour` or `time.not_null`), and every run counts it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import polars as pl

from mlops_assets.ingest.sources import (
    SourceError,
    TypeInferenceError,
    collect_all_source,
    collect_source,
    scan_source,
    source_fingerprint,
)
from mlops_assets.specs.model import DatasetSpec, TimeSpec, normalized_name

EVENT_TIME = "_event_time"
PARTITION = "_partition"
WINDOW = "_window"
SOURCE_ROW = "_source_row"

GRAIN_EVERY = {"daily": "1d", "weekly": "1w", "monthly": "1mo"}
_CATEGORY = "_window_category"
MAX_NAMES_SHOWN = 20


@dataclass(frozen=True)
class RawBatch:
    """One window of the source, and where every other source row went."""

    frame: pl.DataFrame
    fingerprint: str
    source_rows: int
    rows_without_time: int = 0
    rows_before_start: int = 0
    rows_after_end: int = 0
    rows_outside_run: int = 0
    timeless_in_batch: bool = False

    @property
    def rows_in_source_window(self) -> int:
        return self.frame.height

    @property
    def out_of_window(self) -> int:
        """Source rows this run leaves to other windows or to no window, by the spec's range."""
        timeless_elsewhere = 0 if self.timeless_in_batch else self.rows_without_time
        return (
            self.rows_before_start
            + self.rows_after_end
            + self.rows_outside_run
            + timeless_elsewhere
        )

    def accounted(self) -> bool:
        """The contract: every source row is in the batch or counted outside it."""
        return self.source_rows == self.frame.height + self.out_of_window


class PiiError(SourceError):
    """Personal data the spec declares but the platform cannot find or protect: nothing is stored."""


def _whole_part(name: str, schema: pl.Schema | None = None) -> pl.Expr:
    """A date part as a whole number, or null when it is not one (an integer column already is)."""
    if schema is not None and name in schema and schema[name].is_integer():
        return pl.col(name).cast(pl.Int64, strict=False)
    value = pl.col(name).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value == value.round(0)).then(value).cast(pl.Int64, strict=False)


def _bounded(expr: pl.Expr, low: int, high: int) -> pl.Expr:
    return pl.when(expr.is_between(low, high)).then(expr)


def hour_expr(name: str, schema: pl.Schema | None = None) -> pl.Expr:
    """The hour of the day (0-23) in a column, or null."""
    return _bounded(_whole_part(name, schema), 0, 23)


def _column_time(time: TimeSpec, dtype: pl.DataType) -> pl.Expr:
    assert time.column is not None
    column = pl.col(time.column)
    if dtype == pl.String:
        text = column.str.strip_chars()
        if time.format:
            return text.str.strptime(pl.Datetime("us"), time.format, strict=False)
        return text.str.to_datetime(strict=False, time_unit="us")
    if isinstance(dtype, pl.Datetime):
        return column.dt.replace_time_zone(None).cast(pl.Datetime("us"))
    return column.cast(pl.Datetime("us"), strict=False)


def event_time_expr(time: TimeSpec, schema: pl.Schema) -> pl.Expr:
    """When a row happened (null when it cannot be told), from a timestamp or date parts."""
    if time.parts is not None:
        parts = time.parts
        date = pl.concat_str(
            [_whole_part(p, schema) for p in (parts.year, parts.month, parts.day)],
            separator="-",
        ).str.strptime(pl.Datetime("us"), "%Y-%m-%d", strict=False)
        hours = hour_expr(parts.hour, schema) if parts.hour else pl.lit(0)
        minutes = _bounded(_whole_part(parts.minute, schema), 0, 59) if parts.minute else pl.lit(0)
        return date + pl.duration(hours=hours, minutes=minutes)
    assert time.column is not None
    moment = _column_time(time, schema[time.column])
    if time.hour_column:
        moment = moment.dt.truncate("1d") + pl.duration(hours=hour_expr(time.hour_column, schema))
    return moment


def partition_expr(time: TimeSpec) -> pl.Expr:
    """The start date of the Dagster partition a row falls in."""
    return pl.col(EVENT_TIME).dt.truncate(GRAIN_EVERY[time.partition_grain]).dt.date()


def window_expr(time: TimeSpec) -> pl.Expr:
    """The start date of the monitoring window a row falls in (`time.grain`)."""
    return pl.col(EVENT_TIME).dt.truncate(GRAIN_EVERY[time.grain]).dt.date()


def hash_pii(values: pl.Series, key: bytes) -> pl.Series:
    """Replace each value by its HMAC-SHA256 under `key`; nulls stay null."""
    uniques = values.cast(pl.String).unique().drop_nulls().to_list()
    mapping = {v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32] for v in uniques}
    return values.cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.String)


def _names(columns: list[str]) -> str:
    shown = ", ".join(f"`{c}`" for c in columns[:MAX_NAMES_SHOWN])
    return shown + (
        f" and {len(columns) - MAX_NAMES_SHOWN} more" if len(columns) > MAX_NAMES_SHOWN else ""
    )


def pii_columns_in(columns: list[str], spec: DatasetSpec) -> dict[str, str]:
    """Source column -> the spec's PII name it is, matched with case and spaces ignored.

    Fails closed: a declared PII column the source lacks, or one that two source columns
    match, is a PiiError, raised before anything is read or stored.
    """
    wanted = {normalized_name(c): c for c in spec.pii.actions()}
    found: dict[str, list[str]] = {}
    for column in columns:
        declared = wanted.get(normalized_name(column))
        if declared is not None:
            found.setdefault(declared, []).append(column)
    missing = [c for c in spec.pii.actions() if c not in found]
    if missing:
        raise PiiError(
            f"{spec.source.uri}: PII column(s) {_names(missing)} declared in pii.columns are not "
            f"in the source, whose columns are {_names(columns)} (rule: pii.column_present); "
            "nothing was stored: name the personal-data columns as the source does"
        )
    several = {d: cs for d, cs in found.items() if len(cs) > 1}
    if several:
        detail = "; ".join(f"`{d}` matches {_names(cs)}" for d, cs in several.items())
        raise PiiError(
            f"{spec.source.uri}: PII columns match more than one source column ({detail}) "
            "(rule: pii.column_unique); nothing was stored"
        )
    return {cs[0]: d for d, cs in found.items()}


def protect_pii(frame: pl.DataFrame, spec: DatasetSpec, key: bytes | None) -> pl.DataFrame:
    """Drop or keyed-hash the spec's PII columns (under the spec's names) before anything is stored."""
    matched = pii_columns_in(frame.columns, spec)
    actions = spec.pii.actions()
    hashed = [declared for declared in matched.values() if actions[declared] == "hash"]
    if hashed and not key:
        raise PiiError(
            f"spec `{spec.name}` hashes PII columns {hashed}: set MLOPS_PII_KEY to the secret HMAC key"
        )
    frame = frame.rename({source: declared for source, declared in matched.items()})
    frame = frame.drop([d for d in matched.values() if actions[d] == "drop"])
    return (
        frame.with_columns([hash_pii(frame[c], key).alias(c) for c in hashed]) if hashed else frame
    )


def _missing_time_columns(spec: DatasetSpec, time: TimeSpec, schema: pl.Schema) -> None:
    missing = [c for c in time.source_columns if c not in schema]
    if not missing:
        return
    lookalikes = [
        f"`{c}` looks like `{m}`"
        for m in missing
        for c in schema.names()
        if normalized_name(c) == normalized_name(m)
    ]
    hint = f"; {', '.join(lookalikes)} (names must match exactly)" if lookalikes else ""
    if len(schema) == 1 and not lookalikes:
        hint = f"; the source reads as one column `{schema.names()[0][:60]}`: check source.csv.separator"
    raise SourceError(
        f"{spec.source.uri}: time column(s) {_names(missing)} not found among {_names(schema.names())}"
        f"{hint} (rule: time.column_present)"
    )


def _empty_source(spec: DatasetSpec, columns: list[str]) -> SourceError:
    only = f" (only a header: {_names(columns)})" if columns else ""
    return SourceError(
        f"{spec.source.uri}: the source holds no data rows{only} (rule: source.not_empty)"
    )


def _read(spec: DatasetSpec, window, timeless_partition, pii_key) -> RawBatch:
    lazy = scan_source(spec.source, set(spec.columns))
    schema = lazy.collect_schema()
    pii_columns_in(schema.names(), spec)  # fails closed before any row is read
    fingerprint = source_fingerprint(spec.source)
    time = spec.event_time
    if time is None:
        if spec.rows_in_time_order:
            lazy = lazy.with_row_index(SOURCE_ROW)
        frame = collect_source(lazy, spec.source)
        if frame.height == 0:
            raise _empty_source(spec, list(schema.names()))
        return RawBatch(protect_pii(frame, spec, pii_key), fingerprint, frame.height)
    _missing_time_columns(spec, time, schema)
    assert time.start is not None
    lazy = lazy.with_columns(event_time_expr(time, schema).alias(EVENT_TIME))
    moment = pl.col(EVENT_TIME)
    start = dt.datetime.combine(time.start, dt.time())
    category = pl.when(moment.is_null()).then(pl.lit("timeless"))
    category = category.when(moment < start).then(pl.lit("before"))
    if time.end is not None:
        category = category.when(moment >= dt.datetime.combine(time.end, dt.time())).then(
            pl.lit("after")
        )
    if window is not None:
        w_start, w_end = (w.replace(tzinfo=None) for w in window)
        category = category.when((moment < w_start) | (moment >= w_end)).then(pl.lit("outside"))
    lazy = lazy.with_columns(category.otherwise(pl.lit("in")).alias(_CATEGORY))
    kept = pl.col(_CATEGORY) == "in"
    if timeless_partition is not None:
        kept = kept | (pl.col(_CATEGORY) == "timeless")
    timeless = pl.col(EVENT_TIME).is_null()
    rows = lazy.filter(kept).with_columns(
        pl.when(timeless)
        .then(pl.lit(timeless_partition, dtype=pl.Date))
        .otherwise(partition_expr(time))
        .alias(PARTITION),
        pl.when(timeless)
        .then(pl.lit(timeless_partition, dtype=pl.Date))
        .otherwise(window_expr(time))
        .alias(WINDOW),
    )
    counts_frame, frame = collect_all_source(
        [lazy.group_by(_CATEGORY).agg(pl.len().alias("rows")), rows.drop(_CATEGORY)], spec.source
    )
    counts = dict(counts_frame.iter_rows())
    total = int(sum(counts.values()))
    if total == 0:
        raise _empty_source(spec, list(schema.names()))
    return RawBatch(
        protect_pii(frame, spec, pii_key),
        fingerprint,
        source_rows=total,
        rows_without_time=int(counts.get("timeless", 0)),
        rows_before_start=int(counts.get("before", 0)),
        rows_after_end=int(counts.get("after", 0)),
        rows_outside_run=int(counts.get("outside", 0)),
        timeless_in_batch=timeless_partition is not None,
    )


def read_raw_batch(
    spec: DatasetSpec,
    window: tuple[dt.datetime, dt.datetime] | None,
    pii_key: bytes | None,
    timeless_partition: dt.date | None = None,
) -> RawBatch:
    """Read the rows of one window (or all rows, for a spec without partitions).

    `timeless_partition` is the partition that rows without a usable time are stored in,
    when this run covers it (the spec's first partition), else None. Types are inferred
    over the whole source unless the spec limits it; a limited inference that a later
    value breaks is retried over every row.
    """
    try:
        return _read(spec, window, timeless_partition, pii_key)
    except TypeInferenceError:
        if spec.source.csv.infer_schema_length is None:
            raise
        whole = spec.source.csv.model_copy(update={"infer_schema_length": None})
        retry = spec.model_copy(update={"source": spec.source.model_copy(update={"csv": whole})})
        return _read(retry, window, timeless_partition, pii_key)
