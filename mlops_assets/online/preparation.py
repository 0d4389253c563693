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
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlops_assets.features.build import build_features
from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, event_time_expr, partition_expr
from mlops_assets.ingest.raw_batch import protect_pii as protect_personal_data
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
        protect_personal_data(
            pl.DataFrame(schema=dict.fromkeys(schema.columns, pl.String)), self.spec, pii_key
        )

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
        raw = raw.with_columns(
            pl.Series(REQUEST, request_of, dtype=pl.Int32),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias(ONLINE_ROW),
        )
        raw = protect_personal_data(raw, self.spec, self.pii_key)
        if self.spec.time is not None:
            raw = raw.with_columns(event_time_expr(self.spec.time, raw.schema).alias(EVENT_TIME))
            raw = raw.with_columns(partition_expr(self.spec.time).alias(PARTITION))
            label = self._time_label()
            shown = self.spec.time.source_columns
            for row in raw.filter(pl.col(EVENT_TIME).is_null()).iter_rows(named=True):
                request = row[REQUEST]
                value = " ".join(str(row[c]) for c in shown if c in row)
                local = row[ONLINE_ROW] - int(offsets[request])
                errors[request].append(RowError(local, label, TIME_PARSES, value))
        if errors:
            raw = raw.filter(~pl.col(REQUEST).is_in(list(errors)))
        validated = validate_requests(self.gate, raw)
        errors.update(validated.errors)
        features = build_features(self.spec, validated.valid).frame.sort(ONLINE_ROW)
        return PreparedBatch(features, dict(errors), heights)
