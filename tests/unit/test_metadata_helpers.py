"""The helpers that round metadata for reading and build its tables (docs/metadata.md)."""

import math

import dagster as dg
import polars as pl
import pytest

from mlops_assets.assets.metadata import (
    metric,
    milliseconds,
    names_of,
    names_text,
    ratio,
    records_table,
    significant,
    table_rows,
)


def test_metrics_keep_four_significant_digits():
    assert [significant(v) for v in (0.8123456789, 123456.7, 0.000123456, -2.345678)] == [
        0.8123,
        123500.0,
        0.0001235,
        -2.346,
    ]
    assert metric(None).value != metric(None).value  # NaN: the UI leaves it out of plots
    assert math.isinf(metric(float("inf")).value)


def test_shares_keep_three_decimals_but_never_read_as_zero():
    assert ratio(0.123456).value == 0.123
    assert ratio(0.0042123).value == 0.0042
    assert ratio(0).value == 0.0 and ratio(1).value == 1.0


def test_latencies_keep_one_decimal_of_a_millisecond():
    assert milliseconds(35.249).value == 35.2
    assert milliseconds(0.0423).value == 0.04


def test_a_report_table_has_typed_described_columns_and_rounded_cells():
    frame = pl.DataFrame(
        {"slice": ["a", "b"], "rows": [10, 20], "roc_auc": [0.81234567, float("nan")]}
    )
    table = records_table(frame, {"slice": "Plan", "rows": "Test rows", "roc_auc": "ROC AUC"})
    assert isinstance(table, dg.TableMetadataValue)
    assert [(c.name, c.type) for c in table.schema.columns] == [
        ("slice", "string"),
        ("rows", "int"),
        ("roc_auc", "float"),
    ]
    assert table_rows(table) == [
        {"slice": "a", "rows": 10, "roc_auc": 0.8123},
        {"slice": "b", "rows": 20, "roc_auc": None},
    ]


def test_a_report_column_without_a_description_is_refused():
    with pytest.raises(ValueError, match="roc_auc"):
        records_table(pl.DataFrame({"roc_auc": [0.5]}), {})


def test_names_are_one_line_and_read_back():
    assert names_text(["plan", "tenure_months"]).value == "plan, tenure_months"
    assert names_of(names_text(["plan", "tenure_months"])) == ["plan", "tenure_months"]
    assert names_of(names_text([])) == []
    assert names_of(dg.MetadataValue.json(["a", "b"])) == ["a", "b"]  # older materializations
