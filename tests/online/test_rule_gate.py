"""The online rule gate is `validate_batch`'s equal: it passes exactly the requests whose rows
`validate_batch` keeps, types them alike, and reports `validate_batch`'s own errors for the rest."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.online.validation import REQUEST, RuleGate, validate_requests
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.validation.rules import ROW, typed_rows, validate_batch

SPEC = DatasetSpec.model_validate(
    {
        "name": "gate",
        "source": {"uri": "gate.csv"},
        "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
        "id_columns": ["id"],
        "columns": {
            "n": {"dtype": "int", "min": 0, "max": 100, "nullable": False},
            "x": {"dtype": "float", "min": 0.0, "nullable": False},
            "c": {"dtype": "string", "allowed": ["a", "b"]},
            "k": {"dtype": "int", "allowed": [1, 2, 3]},
            "u": {"dtype": "string", "unique": True},
            "f": {"dtype": "bool"},
            "d": {"dtype": "date", "min": None},
            "lo": {"max": 5, "dtype": "float"},
        },
    }
)
COLUMNS = ("id", "n", "x", "c", "k", "u", "f", "d", "lo", "churned", "free")

values = {
    "id": st.one_of(st.none(), st.integers(0, 12).map(str)),
    "n": st.one_of(
        st.none(), st.integers(-5, 110).map(str), st.sampled_from(["abc", "2.0", "2.5", " 7 "])
    ),
    "x": st.one_of(
        st.none(),
        st.floats(-5, 50, allow_nan=False).map(repr),
        st.sampled_from(["nan", "x", "1,5"]),
    ),
    "c": st.one_of(st.none(), st.sampled_from(["a", "b", "z", "A", " a"])),
    "k": st.one_of(st.none(), st.sampled_from(["1", "2", "4", "3.0", "q"])),
    "u": st.one_of(st.none(), st.sampled_from(["p", "q", "r", "s"])),
    "f": st.one_of(st.none(), st.sampled_from(["true", "no", "1", "maybe"])),
    "d": st.one_of(st.none(), st.sampled_from(["2024-01-02", "2024-13-01", "yesterday"])),
    "lo": st.one_of(st.none(), st.floats(-1, 9, allow_nan=False).map(repr)),
    "churned": st.one_of(st.none(), st.sampled_from(["yes", "no"])),
    "free": st.one_of(st.none(), st.text(max_size=3)),
}


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String), orient="row")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.fixed_dictionaries(values), min_size=1, max_size=6), min_size=1, max_size=6
    )
)
def test_the_gate_passes_exactly_what_validate_batch_keeps(requests: list[list[dict]]) -> None:
    gate = RuleGate(SPEC)
    raw = pl.concat(
        [
            _frame(rows).with_columns(pl.lit(i, pl.Int32).alias(REQUEST))
            for i, rows in enumerate(requests)
        ]
    )
    checked = validate_requests(gate, raw)
    typed = typed_rows(SPEC, raw)
    passes = gate.row_passes(raw, typed)
    assert passes is not None, "every rule of this spec compiles into the gate"

    kept = []
    for index, rows in enumerate(requests):
        batch = validate_batch(
            SPEC, _frame(rows).with_columns(pl.lit(index, pl.Int32).alias(REQUEST)), labelled=False
        )
        mine = (raw[REQUEST] == index).to_numpy()
        if batch.rejected.height:
            reported = [(e.row, e.column, e.rule, e.value) for e in checked.errors[index]]
            expected = [
                (r[ROW], r["column"], r["rule"], r["failure_case"])
                for r in batch.row_failures.iter_rows(named=True)
            ]
            assert reported == expected
            assert not passes.filter(pl.Series(mine)).all()
        else:
            assert index not in checked.errors
            assert passes.filter(pl.Series(mine)).all(), "the gate passes what validate_batch keeps"
            kept.append(batch.valid)
    expected_valid = pl.concat(kept) if kept else typed.head(0)
    assert checked.valid.to_dicts() == expected_valid.to_dicts()
    assert checked.valid.schema == typed.schema


def test_a_duplicate_id_refuses_only_the_request_it_is_repeated_in() -> None:
    row = {c: None for c in COLUMNS} | {"n": "5", "x": "1.0", "id": "7"}
    raw = pl.concat(
        [
            _frame([row | {"u": "p"}, row | {"u": "q"}]).with_columns(
                pl.lit(0, pl.Int32).alias(REQUEST)
            ),
            _frame([row | {"u": "p"}]).with_columns(pl.lit(1, pl.Int32).alias(REQUEST)),
        ]
    )
    checked = validate_requests(RuleGate(SPEC), raw)
    assert list(checked.errors) == [0]
    assert {(e.row, e.column, e.rule) for e in checked.errors[0]} == {
        (0, "id", "field_uniqueness"),
        (1, "id", "field_uniqueness"),
    }
    assert checked.valid[REQUEST].to_list() == [1]


def test_a_rule_the_gate_cannot_compile_falls_back_to_validate_batch() -> None:
    spec = DatasetSpec.model_validate(
        {
            "name": "untyped",
            "source": {"uri": "u.csv"},
            "target": {"column": "y", "task": "regression"},
            "columns": {"s": {"min": 0}},  # no dtype: the check meets text, which Pandera skips
        }
    )
    raw = _frame([]).select(
        pl.Series("s", ["3", "-1"]),
        pl.Series("y", ["1", "2"]),
        pl.Series(REQUEST, [0, 1], pl.Int32),
    )
    gate = RuleGate(spec)
    assert gate.row_passes(raw, typed_rows(spec, raw)) is None
    checked = validate_requests(gate, raw)
    assert checked.errors == {}
    assert checked.valid.height == validate_batch(spec, raw).valid.height == 2
