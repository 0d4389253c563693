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

from dataclasses import dataclass

import pandera.backends.polars.builtin_checks  # noqa: F401  (registers the polars check functions)
import polars as pl
from pandera.api.polars.types import PolarsData

from mlops_assets.online.errors import RowError
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.validation.rules import (
    ROW,
    pandera_schema,
    typed_rows,
    typing_expressions,
    validate_batch,
)

REQUEST = "_request"
"""Which request of a micro-batch a row belongs to (0, 1, ...); rows of one request are contiguous."""


@dataclass(frozen=True)
class ValidatedRequests:
    """Typed rows of the requests that keep every rule (in row order), and each request's errors."""

    valid: pl.DataFrame
    errors: dict[int, list[RowError]]


class _NotCompiled(Exception):
    """A rule the gate cannot turn into one expression (the request then gets validate_batch)."""


class _Selection:
    """Stands in for the lazy frame a Pandera check function selects from, and keeps the
    expression it selects (every built-in polars check is one `select` of one expression)."""

    def __init__(self) -> None:
        self.expressions: list[pl.Expr] | None = None

    def select(self, *expressions: pl.Expr) -> _Selection:
        if self.expressions is not None or not expressions:
            raise _NotCompiled
        self.expressions = list(expressions)
        return self


def check_expression(name: str, check) -> pl.Expr:
    """Per row, does column `name` pass a Pandera check: the expression its own polars check
    function selects, with Pandera's handling of nulls (`ignore_na`) and of several columns."""
    if check.element_wise or check._check_fn is None:
        raise _NotCompiled
    selection = _Selection()
    try:
        out = check._check_fn(PolarsData(selection, name), **check._check_kwargs)
    except _NotCompiled:
        raise
    except Exception as error:
        raise _NotCompiled from error
    if out is not selection or not selection.expressions:
        raise _NotCompiled
    expressions = selection.expressions
    passed = expressions[0] if len(expressions) == 1 else pl.all_horizontal(expressions)
    return passed.fill_null(bool(check.ignore_na))


@dataclass(frozen=True)
class _Rules:
    """The rules of one typed schema. Type and nullability rules are per column and are first
    screened on null counts (a column without an extra null cannot break them); only the
    columns that fail the screen are checked row by row, with the checks and uniqueness."""

    declared: list[str]
    required: list[tuple[str, bool]]
    per_row: list[pl.Expr]


class RuleGate:
    """The spec's rules compiled once per typed schema into polars expressions."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self._compiled: dict[tuple, _Rules | None] = {}
        self._typing: dict[tuple, tuple[list[pl.Expr], pl.Expr]] = {}

    def typed(self, raw: pl.DataFrame) -> pl.DataFrame:
        """`typed_rows` of the batch, with the expressions built once per raw schema."""
        key = tuple(raw.schema.items())
        if key not in self._typing:
            self._typing[key] = typing_expressions(self.spec, raw.schema)
        return typed_rows(self.spec, raw, self._typing[key])

    def _compile(self, typed: pl.Schema, declared: list[str]) -> _Rules | None:
        key = (tuple(typed.items()), tuple(declared))
        if key not in self._compiled:
            try:
                self._compiled[key] = self._rules(typed, declared)
            except _NotCompiled:
                self._compiled[key] = None
        return self._compiled[key]

    def _rules(self, typed: pl.Schema, declared: list[str]) -> _Rules:
        required, per_row = [], []
        for name, column in pandera_schema(self.spec, typed, labelled=False).columns.items():
            if not column.nullable:
                required.append((name, typed[name].is_float()))
            if column.unique:
                per_row.append(~pl.col(name).is_duplicated().over(REQUEST))
            per_row += [check_expression(name, check) for check in column.checks]
        named = [rule.alias(f"_rule_{i}") for i, rule in enumerate(per_row)]
        return _Rules(declared, required, named)

    def row_passes(self, raw: pl.DataFrame, typed: pl.DataFrame) -> pl.Series | None:
        """Per row: does it keep every rule? None when the gate cannot tell (full validation then)."""
        declared = [c for c, rules in self.spec.columns.items() if rules.dtype and c in raw.columns]
        rules = self._compile(typed.schema, declared)
        if rules is None:
            return None
        per_row = list(rules.per_row)
        # A declared value that did not cast broke its dtype rule (as `validate_batch` finds);
        # casting keeps every null, so a column with no more nulls than its text has none.
        lost = [c for c in declared if typed[c].null_count() > raw[c].null_count()]
        per_row += [
            (~(raw[c].is_not_null() & pl.col(c).is_null())).alias(f"_cast_{c}") for c in lost
        ]
        for name, is_float in rules.required:
            column = typed[name]
            if column.null_count() or (is_float and column.is_nan().any()):
                present = pl.col(name).is_not_null()
                present = present & pl.col(name).is_not_nan() if is_float else present
                per_row.append(present.fill_null(False).alias(f"_present_{name}"))
        if not per_row:
            return pl.Series("passes", [True] * typed.height)
        try:
            # One eager projection: on a request's few rows the lazy engine's planning would
            # cost more than the checks.
            return typed.select(pl.all_horizontal(per_row).alias("passes")).to_series()
        except pl.exceptions.PolarsError:
            return None


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
    typed = gate.typed(raw)
    passes = gate.row_passes(raw, typed)
    requests = raw[REQUEST]
    if passes is None:
        failing = requests.unique().to_list()
    else:
        failing = [] if passes.all() else requests.filter(~passes).unique().to_list()
    errors: dict[int, list[RowError]] = {}
    for request in failing:
        mine = requests == request
        _, found = row_errors(gate.spec, raw.filter(mine))
        if found:
            errors[request] = found
    valid = typed.filter(~requests.is_in(list(errors))) if errors else typed
    return ValidatedRequests(valid, errors)
