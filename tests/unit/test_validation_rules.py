"""The spec's column rules applied to hand-made raw batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.specs.model import DatasetSpec
from mlops_assets.validation.rules import (
    EVENT_TIME,
    PARTITION,
    REJECTED_RULES,
    REJECTION_REASONS,
    pandera_schema,
    required_columns,
    target_source_columns,
    validate_batch,
)


def make_spec(**fields: Any) -> DatasetSpec:
    data: dict[str, Any] = {
        "name": "unit",
        "source": {"uri": "unit.csv"},
        "target": {"column": "y", "task": "regression"},
    }
    data.update(fields)
    return DatasetSpec.model_validate(data)


def reasons(outcome: Any) -> list[str]:
    return outcome.rejected[REJECTION_REASONS].to_list()


def test_clean_batch_is_all_valid_and_typed() -> None:
    spec = make_spec(columns={"n": {"dtype": "int"}, "x": {"dtype": "float"}})
    raw = pl.DataFrame({"n": ["1", " 2 ", "3"], "x": ["1.5", "2", "1,000.5"], "y": ["1", "2", "3"]})
    outcome = validate_batch(spec, raw)
    assert outcome.rejected.height == 0
    assert outcome.failures.height == 0
    assert outcome.rejected_share == 0.0
    assert outcome.valid.schema == pl.Schema({"n": pl.Int64, "x": pl.Float64, "y": pl.Float64})
    assert outcome.valid["n"].to_list() == [1, 2, 3]
    assert outcome.valid["x"].to_list() == [1.5, 2.0, 1000.5]


def test_wrong_type_in_int_column_is_rejected_with_reason() -> None:
    spec = make_spec(columns={"n": {"dtype": "int"}})
    raw = pl.DataFrame({"n": ["1", "abc", "3", "2.5"], "y": ["1", "2", "3", "4"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["n"].to_list() == [1, 3]
    assert reasons(outcome) == ["n: dtype(int) (value abc)", "n: dtype(int) (value 2.5)"]
    assert outcome.rejected[REJECTED_RULES].to_list() == [["dtype(int)"], ["dtype(int)"]]
    failure = outcome.failures_for("dtype").row(0, named=True)
    # The example value is one of the failing values; which one is not stable between runs.
    assert failure.pop("failure_case") in {"abc", "2.5"}
    assert failure == {"column": "n", "rule": "dtype(int)", "rows": 2}


@pytest.mark.parametrize(
    ("dtype", "good", "bad"),
    [
        ("float", "1.25", "x1"),
        ("bool", "yes", "maybe"),
        ("date", "2024-01-31", "31/31/2024"),
    ],
)
def test_wrong_type_in_other_declared_columns(dtype: str, good: str, bad: str) -> None:
    spec = make_spec(columns={"v": {"dtype": dtype}})
    outcome = validate_batch(spec, pl.DataFrame({"v": [good, bad], "y": ["1", "2"]}))
    assert outcome.valid.height == 1
    assert reasons(outcome) == [f"v: dtype({dtype}) (value {bad})"]


def test_out_of_range_values_rejected_with_in_range() -> None:
    spec = make_spec(columns={"n": {"dtype": "int", "min": 0, "max": 10}})
    raw = pl.DataFrame({"n": ["-1", "0", "10", "11", "5"], "y": ["1"] * 5})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["n"].to_list() == [0, 10, 5]
    assert outcome.rejected["n"].to_list() == ["-1", "11"]
    rules = outcome.rejected[REJECTED_RULES].to_list()
    assert all(r == [rules[0][0]] and r[0].startswith("in_range") for r in rules)
    assert reasons(outcome)[0].startswith("n: in_range(")
    assert reasons(outcome)[0].endswith("(value -1)")


def test_one_sided_bounds() -> None:
    spec = make_spec(
        columns={"lo": {"dtype": "float", "min": 0}, "hi": {"dtype": "float", "max": 1}}
    )
    raw = pl.DataFrame({"lo": ["-0.5", "3"], "hi": ["0.5", "2"], "y": ["1", "2"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid.height == 0
    assert outcome.rejected[REJECTED_RULES].to_list() == [
        ["greater_than_or_equal_to(0.0)"],
        ["less_than_or_equal_to(1.0)"],
    ]


def test_value_outside_allowed_rejected_with_isin() -> None:
    spec = make_spec(columns={"c": {"dtype": "string", "allowed": ["a", "b"]}})
    raw = pl.DataFrame({"c": ["a", "z", None, "b"], "y": ["1", "2", "3", "4"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["c"].to_list() == ["a", None, "b"]  # nullable by default
    assert outcome.rejected["c"].to_list() == ["z"]
    assert outcome.rejected[REJECTED_RULES].to_list() == [["isin(['a', 'b'])"]]
    assert reasons(outcome) == ["c: isin(['a', 'b']) (value z)"]


def test_non_nullable_column_rejects_nulls() -> None:
    spec = make_spec(columns={"c": {"dtype": "string", "nullable": False}})
    outcome = validate_batch(spec, pl.DataFrame({"c": ["a", None], "y": ["1", "2"]}))
    assert reasons(outcome) == ["c: not_nullable (value null)"]


def test_duplicate_id_values_rejected() -> None:
    spec = make_spec(id_columns=["id"])
    raw = pl.DataFrame({"id": ["1", "2", "2", "3"], "y": ["1", "2", "3", "4"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["id"].to_list() == ["1", "3"]
    assert outcome.rejected["id"].to_list() == ["2", "2"]
    assert outcome.rejected[REJECTED_RULES].to_list() == [["field_uniqueness"]] * 2
    assert reasons(outcome) == ["id: field_uniqueness (value 2)"] * 2


def test_declared_unique_column_rejects_duplicates() -> None:
    spec = make_spec(columns={"k": {"dtype": "int", "unique": True}})
    raw = pl.DataFrame({"k": ["1", "1", "2"], "y": ["1", "2", "3"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["k"].to_list() == [2]
    assert outcome.rejected[REJECTED_RULES].to_list() == [["field_uniqueness"]] * 2


def test_duplicate_id_values_rejected_when_id_column_is_also_declared() -> None:
    spec = make_spec(id_columns=["id"], columns={"id": {"dtype": "int"}})
    raw = pl.DataFrame({"id": ["1", "2", "2", None], "y": ["1", "2", "3", "4"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["id"].to_list() == [1]
    assert outcome.rejected.height == 3


def test_null_target_rejected_and_counted() -> None:
    spec = make_spec()
    raw = pl.DataFrame({"x": ["a", "b", "c", "d"], "y": ["1.5", None, "2", None]})
    outcome = validate_batch(spec, raw)
    assert outcome.target_nulls == 2
    assert outcome.valid["y"].to_list() == [1.5, 2.0]
    assert reasons(outcome) == ["y: not_nullable (value null)"] * 2
    assert outcome.rejected["x"].to_list() == ["b", "d"]
    assert outcome.rejected_share == pytest.approx(0.5)


def test_target_derived_by_expression_is_int8_zero_one() -> None:
    spec = make_spec(
        target={"column": "late", "task": "binary", "expression": "delay > 15"},
        columns={"delay": {"dtype": "float"}},
    )
    raw = pl.DataFrame({"delay": ["20", "15", "-3", None, "16.5"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["late"].dtype == pl.Int8
    assert outcome.valid["late"].to_list() == [1, 0, 0, 1]
    assert outcome.valid["delay"].to_list() == [20.0, 15.0, -3.0, 16.5]
    assert outcome.target_nulls == 1
    assert reasons(outcome) == ["late: not_nullable (value null)"]
    assert "late" not in outcome.rejected.columns  # the raw batch had no such column


def test_binary_with_positive_label() -> None:
    spec = make_spec(target={"column": "churned", "task": "binary", "positive_label": "yes"})
    raw = pl.DataFrame({"churned": ["yes", "no", "yes", None], "k": [1, 2, 3, 4]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["churned"].dtype == pl.Int8
    assert outcome.valid["churned"].to_list() == [1, 0, 1]
    assert outcome.target_nulls == 1
    assert outcome.rejected["k"].to_list() == ["4"]


def test_binary_target_outside_zero_one_rejected() -> None:
    spec = make_spec(target={"column": "y", "task": "binary"})
    raw = pl.DataFrame({"y": ["0", "1", "2", "yes"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid["y"].to_list() == [0, 1]
    assert outcome.rejected["y"].to_list() == ["2", "yes"]
    assert outcome.rejected[REJECTED_RULES].to_list() == [["isin([0, 1])"], ["target.label"]]


def test_multiclass_target_is_text() -> None:
    spec = make_spec(target={"column": "y", "task": "multiclass"})
    outcome = validate_batch(spec, pl.DataFrame({"y": [3, 1, 2]}))
    assert outcome.valid["y"].dtype == pl.String
    assert outcome.valid["y"].to_list() == ["3", "1", "2"]


def test_rejected_keeps_original_columns_as_text_with_reasons() -> None:
    spec = make_spec(columns={"n": {"dtype": "int", "max": 5}})
    raw = pl.DataFrame(
        {
            "n": ["1", "9"],
            "count": [10, 20],
            "ratio": [0.5, 1.5],
            "flag": [True, False],
            "y": ["1", "2"],
            EVENT_TIME: [dt.datetime(2024, 1, 1, 8), dt.datetime(2024, 1, 2, 9)],
            PARTITION: [dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
        }
    )
    outcome = validate_batch(spec, raw)
    rejected = outcome.rejected
    assert rejected.columns == [*raw.columns, REJECTION_REASONS, REJECTED_RULES]
    assert rejected.row(0, named=True) | {REJECTED_RULES: None} == {
        "n": "9",
        "count": "20",
        "ratio": "1.5",
        "flag": "false",
        "y": "2",
        EVENT_TIME: "2024-01-02 09:00:00.000000",
        PARTITION: dt.date(2024, 1, 2),  # kept as a date: the partition column of storage
        REJECTION_REASONS: "n: less_than_or_equal_to(5.0) (value 9)",
        REJECTED_RULES: None,
    }
    for name in ("n", "count", "ratio", "flag", "y", EVENT_TIME):
        assert rejected.schema[name] == pl.String
    assert rejected.schema[PARTITION] == pl.Date
    assert outcome.valid.columns == raw.columns


def test_every_broken_rule_of_a_row_is_listed() -> None:
    spec = make_spec(
        id_columns=["id"],
        columns={"n": {"dtype": "int", "min": 0, "max": 10}, "c": {"allowed": ["a"]}},
    )
    raw = pl.DataFrame({"id": ["1", "1"], "n": ["50", "abc"], "c": ["zz", "a"], "y": [None, "1"]})
    outcome = validate_batch(spec, raw)
    assert outcome.valid.height == 0
    first, second = reasons(outcome)
    assert first.split("; ") == [
        "c: isin(['a']) (value zz)",
        "id: field_uniqueness (value 1)",
        "n: in_range(0.0, 10.0) (value 50)",
        "y: not_nullable (value null)",
    ]
    assert second.split("; ") == ["id: field_uniqueness (value 1)", "n: dtype(int) (value abc)"]
    counts = {(r["column"], r["rule"]): r["rows"] for r in outcome.failures.iter_rows(named=True)}
    assert counts[("id", "field_uniqueness")] == 2
    assert counts[("n", "dtype(int)")] == 1


def test_missing_required_column_rejects_every_row() -> None:
    spec = make_spec(columns={"n": {"dtype": "int"}, "m": {"dtype": "int"}})
    raw = pl.DataFrame({"n": ["1", "2"], "y": ["1", "2"]})
    outcome = validate_batch(spec, raw)
    assert outcome.missing_columns == ["m"]
    assert outcome.valid.height == 0
    assert outcome.valid.columns == raw.columns
    assert outcome.rejected.height == 2
    assert reasons(outcome) == ["m: column_present"] * 2
    assert outcome.failures.row(0, named=True) == {
        "column": "m",
        "rule": "column_present",
        "rows": 2,
        "failure_case": None,
    }


def test_pandera_schema_has_declared_checks() -> None:
    spec = make_spec(
        target={"column": "y", "task": "binary"},
        id_columns=["id"],
        columns={
            "n": {"dtype": "int", "min": 0, "max": 10, "nullable": False},
            "lo": {"dtype": "float", "min": 1},
            "c": {"dtype": "string", "allowed": ["a", "b"], "unique": True},
            "absent": {"dtype": "int"},
        },
    )
    frame_schema = pl.Schema(
        {"id": pl.String, "n": pl.Int64, "lo": pl.Float64, "c": pl.String, "y": pl.Int8}
    )
    schema = pandera_schema(spec, frame_schema)
    assert schema.name == "unit_validated"
    assert set(schema.columns) == {"id", "n", "lo", "c", "y"}  # absent columns are skipped

    def check_names(column: str) -> list[str]:
        return [check.name for check in schema.columns[column].checks]

    assert check_names("n") == ["in_range"]
    assert schema.columns["n"].checks[0].statistics["min_value"] == 0
    assert schema.columns["n"].checks[0].statistics["max_value"] == 10
    assert not schema.columns["n"].nullable
    assert check_names("lo") == ["greater_than_or_equal_to"]
    assert schema.columns["lo"].nullable
    assert check_names("c") == ["isin"]
    assert schema.columns["c"].unique
    assert check_names("y") == ["isin"]
    assert not schema.columns["y"].nullable
    assert schema.columns["id"].unique
    assert not schema.columns["id"].nullable


def test_required_columns_include_time_parts_ids_target_and_join_keys() -> None:
    spec = make_spec(
        target={"column": "late", "task": "binary", "expression": "arr_delay > 15"},
        id_columns=["flight_id"],
        columns={"carrier": {"dtype": "string"}, "email": {"dtype": "string"}},
        time={
            "parts": {"year": "yr", "month": "mo", "day": "dy", "hour": "hr"},
            "start": "2024-01-01",
        },
        joins=[
            {"name": "weather", "source": {"uri": "w.csv"}, "keys": ["origin", "yr"]},
            {"name": "planes", "source": {"uri": "p.csv"}, "keys": ["tailnum"]},
        ],
        pii={"columns": ["email"], "action": "drop"},
    )
    needed = required_columns(spec)
    assert needed == [
        "carrier",
        "arr_delay",
        "flight_id",
        "yr",
        "mo",
        "dy",
        "hr",
        "origin",
        "tailnum",
    ]
    assert "email" not in needed  # dropped personal data is not required
    hashed = spec.model_copy(update={"pii": spec.pii.model_copy(update={"action": "hash"})})
    assert "email" in required_columns(hashed)


def test_required_columns_with_time_column() -> None:
    spec = make_spec(time={"column": "ts", "start": "2024-01-01"})
    assert required_columns(spec) == ["y", "ts"]


def test_target_source_columns() -> None:
    assert target_source_columns(make_spec()) == ["y"]
    spec = make_spec(
        target={
            "column": "late",
            "task": "binary",
            "expression": "arr_delay > 15 AND dep_delay < 60",
        }
    )
    assert sorted(target_source_columns(spec)) == ["arr_delay", "dep_delay"]


# --- property: nothing is dropped silently, and what is kept keeps every rule ---------------

PROPERTY_SPEC = make_spec(
    id_columns=["id"],
    columns={
        "n": {"dtype": "int", "min": 0, "max": 100, "nullable": False},
        "c": {"dtype": "string", "allowed": ["a", "b", "c"]},
        "x": {"dtype": "float", "min": 0.0},
    },
)

n_values = st.one_of(
    st.none(),
    st.integers(-20, 130).map(str),
    st.sampled_from(["abc", "1.5", " 7 ", "", "1e1"]),
)
c_values = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "A"]))
x_values = st.one_of(
    st.none(), st.floats(-10, 1e6, allow_nan=False).map(repr), st.sampled_from(["x", "-0.0"])
)
y_values = st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False).map(repr))


def _expected_bad(row: dict[str, Any], id_counts: dict[str, int]) -> bool:
    def as_float(value: str | None) -> float | None:
        try:
            return float(value.strip()) if value is not None and value.strip() else None
        except ValueError:
            return None

    n = as_float(row["n"])
    if n is None or n != round(n) or not 0 <= n <= 100:
        return True
    if row["c"] is not None and row["c"] not in {"a", "b", "c"}:
        return True
    x = as_float(row["x"])
    if row["x"] is not None and (x is None or x < 0):
        return True
    return row["id"] is None or id_counts[row["id"]] > 1 or row["y"] is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.one_of(st.none(), st.integers(0, 40).map(str)),
                "n": n_values,
                "c": c_values,
                "x": x_values,
                "y": y_values,
            }
        ),
        min_size=0,
        max_size=40,
    )
)
def test_property_rows_are_kept_or_rejected_never_lost(rows: list[dict[str, Any]]) -> None:
    raw = pl.DataFrame(
        rows, schema={c: pl.String for c in ("id", "n", "c", "x", "y")}, orient="row"
    )
    outcome = validate_batch(PROPERTY_SPEC, raw)
    assert outcome.valid.height + outcome.rejected.height == raw.height
    assert outcome.rows_in == raw.height
    assert outcome.rejected.columns == [*raw.columns, REJECTION_REASONS, REJECTED_RULES]
    assert outcome.rejected[REJECTION_REASONS].null_count() == 0
    assert outcome.target_nulls == sum(r["y"] is None for r in rows)

    id_counts: dict[str, int] = {}
    for row in rows:
        if row["id"] is not None:
            id_counts[row["id"]] = id_counts.get(row["id"], 0) + 1
    expected_bad = [row for row in rows if _expected_bad(row, id_counts)]
    expected_good = [row for row in rows if not _expected_bad(row, id_counts)]
    assert outcome.rejected.drop(REJECTION_REASONS, REJECTED_RULES).to_dicts() == expected_bad
    assert outcome.valid["id"].to_list() == [r["id"] for r in expected_good]

    valid = outcome.valid
    assert valid["n"].null_count() == 0
    assert valid["n"].is_between(0, 100).all()
    assert valid["c"].drop_nulls().is_in(["a", "b", "c"]).all()
    assert (valid["x"].drop_nulls() >= 0).all()
    assert valid["y"].null_count() == 0
    assert valid["id"].n_unique() == valid.height
