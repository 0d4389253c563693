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
from mlops_assets.validation.rules import ROW, pandera_schema, typed_rows, validate_batch

REQUEST = "_request"
"""Which request of a micro-batch a row belongs to (0, 1, ...); rows of one request are contiguous."""
GIVEN = "_given_"


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
    passed = pl.all_horizontal(selection.expressions)
    if check.ignore_na:
        passed = passed | passed.is_null()
    return passed.fill_null(False)


class RuleGate:
    """The spec's rules compiled into one polars expression list per typed schema (cached)."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self._compiled: dict[tuple, list[pl.Expr] | None] = {}

    def _compile(self, typed: pl.Schema, declared: list[str]) -> list[pl.Expr] | None:
        key = (tuple(typed.items()), tuple(declared))
        if key not in self._compiled:
            try:
                self._compiled[key] = self._rules(typed, declared)
            except _NotCompiled:
                self._compiled[key] = None
        return self._compiled[key]

    def _rules(self, typed: pl.Schema, declared: list[str]) -> list[pl.Expr]:
        # A declared value that did not cast broke its dtype rule (as `validate_batch` finds).
        rules = [~(pl.col(f"{GIVEN}{c}") & pl.col(c).is_null()) for c in declared]
        for name, column in pandera_schema(self.spec, typed, labelled=False).columns.items():
            if not column.nullable:
                present = pl.col(name).is_not_null()
                if typed[name].is_float():
                    present = present & pl.col(name).is_not_nan()
                rules.append(present.fill_null(False))
            if column.unique:
                rules.append(~pl.col(name).is_duplicated().over(REQUEST))
            rules += [check_expression(name, check) for check in column.checks]
        return [rule.alias(f"_rule_{i}") for i, rule in enumerate(rules)]

    def row_passes(self, raw: pl.DataFrame, typed: pl.DataFrame) -> pl.Series | None:
        """Per row: does it keep every rule? None when the gate cannot tell (full validation then)."""
        declared = [c for c, rules in self.spec.columns.items() if rules.dtype and c in raw.columns]
        rules = self._compile(typed.schema, declared)
        if rules is None:
            return None
        if not rules:
            return pl.Series("passes", [True] * typed.height)
        given = raw.select(pl.col(declared).is_not_null().name.prefix(GIVEN)) if declared else None
        rows = typed.hstack(given.get_columns()) if given is not None else typed
        try:
            # One projection of simple expressions: the query optimizer has nothing to gain.
            checked = rows.lazy().select(pl.all_horizontal(rules).alias("passes"))
            return checked.collect(optimizations=pl.QueryOptFlags.none()).to_series()
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
