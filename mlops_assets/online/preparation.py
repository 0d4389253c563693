"""From the rows of a micro-batch of requests to the feature rows the model scores.

Every step is the batch path's own code: personal data dropped or hashed
(`protect_pii`), the event time and partition (`event_time_expr`,
`partition_expr`), the spec's rules (`online.validation`, which defers to
`validate_batch`), and `build_features` (lookup tables prepared once per process).
Concurrent requests go through together, and each keeps its own answer: a row
that breaks a rule refuses its own request only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlops_assets.features.build import build_features
from mlops_assets.ingest.raw_batch import (
    EVENT_TIME,
    PARTITION,
    WINDOW,
    event_time_expr,
    partition_expr,
    protect_pii,
    window_expr,
)
from mlops_assets.online.errors import RowError
from mlops_assets.online.request_rows import RequestRows
from mlops_assets.online.request_schema import RequestSchema
from mlops_assets.online.validation import REQUEST, RuleGate, validate_requests

ONLINE_ROW = "_online_row"
"""A row's position in its micro-batch: feature building may reorder rows, this restores the order."""
TIME_PARSES = "time_parses"


@dataclass(frozen=True)
class PreparedBatch:
    """Feature rows of the requests that keep every rule (in request order, with the REQUEST and
    ONLINE_ROW columns), and the errors of every other request, by request index."""

    features: pl.DataFrame
    errors: dict[int, list[RowError]]
    heights: list[int]

    def rows_of(self, request: int) -> int:
        return 0 if request in self.errors else self.heights[request]


class RowPreparer:
    """Turns request rows into feature rows for one spec."""

    def __init__(self, schema: RequestSchema, pii_key: bytes | None):
        self.schema = schema
        self.spec = schema.spec
        self.pii_key = pii_key
        self.gate = RuleGate(self.spec)
        # Fails now, not on the first request, when hashed personal data has no key.
        protect_pii(
            pl.DataFrame(schema=dict.fromkeys(schema.columns, pl.String)), self.spec, pii_key
        )

    @functools.cached_property
    def _event_time(self) -> pl.Expr:
        """When each row happened, as `read_raw_batch` computes it (built once)."""
        assert self.spec.time is not None
        raw = pl.Schema({c.name: c.dtype for c in self.schema.columns.values()})
        return event_time_expr(self.spec.time, raw).alias(EVENT_TIME)

    @functools.cached_property
    def _partition(self) -> pl.Expr:
        assert self.spec.time is not None
        return partition_expr(self.spec.time).alias(PARTITION)

    @functools.cached_property
    def _window(self) -> pl.Expr:
        assert self.spec.time is not None
        return window_expr(self.spec.time).alias(WINDOW)

    def _time_label(self) -> str:
        time = self.spec.time
        assert time is not None
        return time.column or "/".join(time.source_columns)

    def prepare(self, requests: list[tuple[RequestRows, dt.datetime]]) -> PreparedBatch:
        """The feature rows of every request (`rows`, received at `at`), or its errors."""
        heights = [rows.height for rows, _ in requests]
        offsets = np.cumsum([0, *heights])
        values: dict[str, list] = {name: [] for name in self.schema.columns}
        for rows, at in requests:
            for name, given in self.schema.filled(rows.values, rows.height, at).items():
                values[name] += given
        raw, type_errors = self.schema.raw_batch(values)
        request_of = np.repeat(np.arange(len(requests)), heights)
        errors: dict[int, list[RowError]] = defaultdict(list)
        for error in type_errors:
            request = int(request_of[error.row])
            errors[request].append(
                dataclasses.replace(error, row=error.row - int(offsets[request]))
            )
        raw = raw.hstack(
            [
                pl.Series(REQUEST, request_of, dtype=pl.Int32),
                pl.Series(ONLINE_ROW, np.arange(len(request_of)), dtype=pl.UInt32),
            ]
        )
        if self.spec.time is not None:
            raw = raw.with_columns(self._event_time).with_columns(self._partition, self._window)
            if raw[EVENT_TIME].null_count():
                self._timeless(raw, offsets, errors)
        if self.spec.pii.actions():  # a spec without personal data has nothing to protect
            raw = protect_pii(raw, self.spec, self.pii_key)
        if errors:
            raw = raw.filter(~pl.col(REQUEST).is_in(list(errors)))
        validated = validate_requests(self.gate, raw)
        errors.update(validated.errors)
        features = build_features(self.spec, validated.valid).frame
        if not features[ONLINE_ROW].is_sorted():
            features = features.sort(ONLINE_ROW)
        return PreparedBatch(features, dict(errors), heights)

    def _timeless(self, raw: pl.DataFrame, offsets: np.ndarray, errors: dict) -> None:
        """Rows whose time does not parse: refused, where the batch path counts them out."""
        assert self.spec.time is not None
        label = self._time_label()
        shown = self.spec.time.source_columns
        for row in raw.filter(pl.col(EVENT_TIME).is_null()).iter_rows(named=True):
            request = row[REQUEST]
            value = " ".join(str(row[c]) for c in shown if c in row)
            local = row[ONLINE_ROW] - int(offsets[request])
            errors[request].append(RowError(local, label, TIME_PARSES, value))
