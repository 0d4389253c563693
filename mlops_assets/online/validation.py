"""Online rows held to the spec's rules, by the batch path's code.

`validate_batch` runs Pandera check by check (about 80 small polars queries for
the flights spec, some 17 ms whatever the row count), which alone would be the
whole latency budget of a single-row request. So a batch of requests is first
put through a gate: the checks of the very schema `validate_batch` builds
(`pandera_schema`), evaluated by Pandera's own check functions, plus the type
casts and nullability and uniqueness rules, all in one polars query. Rows the
gate passes are typed by `typed_rows`, which is what `validate_batch` returns for
rows that break no rule. A request in which the gate finds any failing row (or
that the gate cannot judge) is validated by `validate_batch` itself, and its
rows, columns and rule names are what the answer reports. The gate can only
send a request to the full validation, never pass a row the full validation
would reject (tests/online/test_rule_gate.py holds the two equal).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandera.backends.polars.builtin_checks  # noqa: F401  (registers the polars check functions)
import polars as pl
from pandera.api.polars.types import PolarsData

from mlops_assets.online.errors import RowError
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.validation.rules import ROW, pandera_schema, typed_rows, validate_batch

REQUEST = "_request"
"""Which request of a micro-batch a row belongs to (0, 1, ...); rows of one request are contiguous."""

RuleFrame = Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class ValidatedRequests:
    """Typed rows of the requests that keep every rule (in row order), and each request's errors."""

    valid: pl.DataFrame
    errors: dict[int, list[RowError]]


def _check_frame(name: str, check, index: int) -> RuleFrame:
    function = functools.partial(check._check_fn, **check._check_kwargs)
    alias = f"_rule_{index}"

    def frame(rows: pl.LazyFrame) -> pl.LazyFrame:
        out = function(PolarsData(rows, name)).select(pl.all_horizontal(pl.all()).alias(alias))
        kept = pl.col(alias) | pl.col(alias).is_null() if check.ignore_na else pl.col(alias)
        return out.select(kept.fill_null(False))

    return frame


class RuleGate:
    """The spec's rules compiled into one polars query per typed schema (cached)."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self._compiled: dict[tuple, tuple[list[pl.Expr], list[RuleFrame]] | None] = {}

    def _compile(self, typed: pl.Schema) -> tuple[list[pl.Expr], list[RuleFrame]] | None:
        key = tuple(typed.items())
        if key not in self._compiled:
            try:
                self._compiled[key] = self._rules(typed)
            except Exception:
                self._compiled[key] = None
        return self._compiled[key]

    def _rules(self, typed: pl.Schema) -> tuple[list[pl.Expr], list[RuleFrame]] | None:
        schema = pandera_schema(self.spec, typed, labelled=False)
        expressions: list[pl.Expr] = []
        frames: list[RuleFrame] = []
        for name, column in schema.columns.items():
            if not column.nullable:
                present = pl.col(name).is_not_null()
                if typed[name].is_float():
                    present = present & pl.col(name).is_not_nan()
                expressions.append(present.fill_null(False).alias(f"_present_{name}"))
            if column.unique:
                unique = ~pl.col(name).is_duplicated().over(REQUEST)
                expressions.append(unique.alias(f"_unique_{name}"))
            for check in column.checks:
                if check.element_wise or check._check_fn is None:
                    return None
                frames.append(_check_frame(name, check, len(frames)))
        return expressions, frames

    def row_passes(self, raw: pl.DataFrame, typed: pl.DataFrame) -> pl.Series | None:
        """Per row: does it keep every rule? None when the gate cannot tell (full validation then)."""
        compiled = self._compile(typed.schema)
        if compiled is None:
            return None
        expressions, frames = compiled
        declared = [c for c, rules in self.spec.columns.items() if rules.dtype and c in raw.columns]
        passes = pl.Series("passes", np.ones(typed.height, dtype=bool))
        if declared:
            given = raw.select(pl.col(declared).is_not_null()).to_numpy()
            lost = typed.select(pl.col(declared).is_null()).to_numpy()
            passes = pl.Series("passes", ~(given & lost).any(axis=1))
        rows = typed.lazy()
        parts = [rows.select(expressions)] if expressions else []
        try:
            parts += [frame(rows) for frame in frames]
            if parts:
                checked = pl.concat(parts, how="horizontal").select(pl.all_horizontal(pl.all()))
                passes = passes & checked.collect().to_series()
        except Exception:
            return None
        return passes


def row_errors(spec: DatasetSpec, raw: pl.DataFrame) -> tuple[pl.DataFrame, list[RowError]]:
    """The full validation of one request's rows: its valid rows and every broken rule, by row."""
    outcome = validate_batch(spec, raw, labelled=False)
    errors = [RowError(None, column, "column_present") for column in outcome.missing_columns]
    if outcome.row_failures is not None:
        errors += [
            RowError(int(row[ROW]), row["column"], row["rule"], row["failure_case"])
            for row in outcome.row_failures.iter_rows(named=True)
        ]
    return outcome.valid, errors


def validate_requests(gate: RuleGate, raw: pl.DataFrame) -> ValidatedRequests:
    """Every request of a micro-batch (`raw` has the REQUEST column) held to the spec's rules."""
    typed = typed_rows(gate.spec, raw)
    passes = gate.row_passes(raw, typed)
    requests = raw[REQUEST]
    failing = (
        requests.unique().to_list()
        if passes is None
        else requests.filter(~passes).unique().to_list()
    )
    errors: dict[int, list[RowError]] = {}
    for request in failing:
        mine = requests == request
        _, found = row_errors(gate.spec, raw.filter(mine))
        if found:
            errors[request] = found
    valid = typed.filter(~requests.is_in(list(errors))) if errors else typed
    return ValidatedRequests(valid, errors)
