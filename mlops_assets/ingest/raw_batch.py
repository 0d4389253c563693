"""Turning a source into the raw batch of one partition window.

A raw batch is the source as it was read, plus when each row happened
(`_event_time`) and which partition it belongs to (`_partition`), with personal
data already dropped or keyed-hashed so that none is ever stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import polars as pl

from mlops_assets.ingest.sources import collect_source, scan_source, source_fingerprint
from mlops_assets.specs.model import DatasetSpec, TimeSpec

EVENT_TIME = "_event_time"
PARTITION = "_partition"

_GRAIN_EVERY = {"daily": "1d", "weekly": "1w", "monthly": "1mo"}


@dataclass(frozen=True)
class RawBatch:
    frame: pl.DataFrame
    fingerprint: str
    rows_in_source_window: int
    rows_without_time: int


def event_time_expr(time: TimeSpec, schema: pl.Schema) -> pl.Expr:
    """When a row happened, from a timestamp column or from date-part columns."""
    if time.parts is not None:
        parts = time.parts

        def part(name: str | None, default: int) -> pl.Expr:
            if name is None:
                return pl.lit(default)
            return pl.col(name).cast(pl.Int32, strict=False)

        return pl.datetime(
            part(parts.year, 1970),
            part(parts.month, 1),
            part(parts.day, 1),
            part(parts.hour, 0).clip(0, 23),
            part(parts.minute, 0).clip(0, 59),
        )
    column = pl.col(time.column)
    dtype = schema[time.column]
    if dtype == pl.String:
        if time.format:
            return column.str.strptime(pl.Datetime("us"), time.format, strict=False)
        return column.str.to_datetime(strict=False, time_unit="us")
    if isinstance(dtype, pl.Datetime):
        return column.dt.replace_time_zone(None).cast(pl.Datetime("us"))
    return column.cast(pl.Datetime("us"), strict=False)


def partition_expr(time: TimeSpec) -> pl.Expr:
    """The start date of the partition a row falls in."""
    return pl.col(EVENT_TIME).dt.truncate(_GRAIN_EVERY[time.grain]).dt.date()


def hash_pii(values: pl.Series, key: bytes) -> pl.Series:
    """Replace each value by its HMAC-SHA256 under `key`; nulls stay null."""
    uniques = values.cast(pl.String).unique().drop_nulls().to_list()
    mapping = {v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32] for v in uniques}
    return values.cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.String)


def protect_pii(frame: pl.DataFrame, spec: DatasetSpec, key: bytes | None) -> pl.DataFrame:
    """Drop or keyed-hash the spec's PII columns before anything is stored."""
    actions = {c: a for c, a in spec.pii.actions().items() if c in frame.columns}
    hashed = [c for c, action in actions.items() if action == "hash"]
    if hashed and not key:
        raise ValueError(
            f"spec `{spec.name}` hashes PII columns {hashed}: set MLOPS_PII_KEY to the secret HMAC key"
        )
    frame = frame.drop([c for c, action in actions.items() if action == "drop"])
    return (
        frame.with_columns([hash_pii(frame[c], key).alias(c) for c in hashed]) if hashed else frame
    )


def read_raw_batch(
    spec: DatasetSpec,
    window: tuple[dt.datetime, dt.datetime] | None,
    pii_key: bytes | None,
) -> RawBatch:
    """Read the rows of one window (or all rows, for a spec without time)."""
    declared = set(spec.columns)
    lazy = scan_source(spec.source, declared)
    fingerprint = source_fingerprint(spec.source)
    if spec.time is None:
        frame = collect_source(lazy, spec.source)
        return RawBatch(protect_pii(frame, spec, pii_key), fingerprint, frame.height, 0)
    schema = lazy.collect_schema()
    missing = [c for c in spec.time.source_columns if c not in schema]
    if missing:
        raise ValueError(
            f"{spec.source.uri}: time column(s) {missing} not found (rule: time.* in spec `{spec.name}`)"
        )
    lazy = lazy.with_columns(event_time_expr(spec.time, schema).alias(EVENT_TIME))
    lazy = lazy.with_columns(partition_expr(spec.time).alias(PARTITION))
    if window is not None:
        start, end = (w.replace(tzinfo=None) for w in window)
        timeless = pl.col(EVENT_TIME).is_null()
        counted = collect_source(
            lazy.select(timeless.sum().alias("timeless"), pl.len().alias("all")), spec.source
        )
        lazy = lazy.filter((pl.col(EVENT_TIME) >= start) & (pl.col(EVENT_TIME) < end))
        frame = collect_source(lazy, spec.source)
        return RawBatch(
            protect_pii(frame, spec, pii_key),
            fingerprint,
            frame.height,
            int(counted["timeless"][0]),
        )
    frame = collect_source(lazy, spec.source)
    timeless = frame[EVENT_TIME].null_count()
    frame = frame.filter(pl.col(EVENT_TIME).is_not_null())
    return RawBatch(protect_pii(frame, spec, pii_key), fingerprint, frame.height, timeless)
