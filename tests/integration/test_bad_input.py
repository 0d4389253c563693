"""Bad input is caught by checks, named precisely, kept in rejected_rows, and never replaces the model."""

from __future__ import annotations

import mlflow
import polars as pl
import pytest

from tests.conftest import customers_table

pytestmark = pytest.mark.slow

SPEC = {
    "name": "churn",
    "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
    "id_columns": ["customer_id"],
    "pii": {"columns": ["email"], "action": "drop"},
    "columns": {
        "plan": {"dtype": "string", "allowed": ["basic", "plus", "pro"], "nullable": False},
        "tenure_months": {"dtype": "int", "min": 0, "max": 120},
        "monthly_spend": {"dtype": "float", "min": 0},
    },
    "training": {"num_boost_round": 100, "early_stopping_rounds": 10},
    "promotion": {"max_metric_drop": 0.05},
}


@pytest.fixture
def churn(platform):
    """A spec whose first, clean run already registered model version 1."""
    path = platform.data / "customers.csv"
    customers_table().write_csv(path)
    platform.write_spec({**SPEC, "source": {"uri": str(path)}})
    first = platform.run("churn")
    assert first["success"] and first["model_version"] == 1
    return platform, path


def _versions() -> list[str]:
    return sorted(
        str(v.version) for v in mlflow.MlflowClient().search_model_versions("name='churn_model'")
    )


def _rejected(platform) -> pl.DataFrame:
    return pl.read_delta(str(platform.home / "tables" / "churn" / "rejected_rows"))


def test_missing_column_fails_naming_file_column_and_rule(churn):
    platform, path = churn
    customers_table().drop("plan").write_csv(path)
    summary = platform.run("churn")
    assert not summary["success"]
    assert "churn/raw:required_columns_present" in summary["error"]
    assert f"{path}: missing column(s) plan (rule: column_present)" in summary["error"]
    assert _versions() == ["1"]
    raw = pl.read_delta(str(platform.home / "tables" / "churn" / "raw"))
    assert raw.height == 1500 and "plan" not in raw.columns


def test_wrong_type_values_are_rejected_with_their_reason(churn):
    platform, path = churn
    table = customers_table().with_columns(pl.col("tenure_months").cast(pl.String))
    table = table.with_columns(
        pl.when(pl.col("customer_id").is_in([5, 9, 77]))
        .then(pl.lit("abc"))
        .otherwise(pl.col("tenure_months"))
        .alias("tenure_months")
    )
    table.write_csv(path)
    summary = platform.run("churn")
    assert summary["success"], summary
    rejected = _rejected(platform)
    assert sorted(rejected["customer_id"].cast(pl.Int64).to_list()) == [5, 9, 77]
    assert rejected["_rejection_reasons"].to_list() == ["tenure_months: dtype(int) (value abc)"] * 3
    assert summary["rows_rejected"] == 3 and _versions() == ["1", "2"]


def test_a_wholly_wrong_typed_column_blocks_training(churn):
    platform, path = churn
    customers_table().with_columns(pl.lit("many").alias("monthly_spend")).write_csv(path)
    summary = platform.run("churn")
    assert not summary["success"]
    assert "rejected_share_within_limit" in summary["error"]
    assert "monthly_spend: dtype(float)" in summary["error"]
    assert _versions() == ["1"]
    assert _rejected(platform).height == 1500


def test_nulls_in_the_target_fail_the_blocking_check(churn):
    platform, path = churn
    table = customers_table().with_columns(
        pl.when(pl.col("customer_id") <= 30)
        .then(None)
        .otherwise(pl.col("churned"))
        .alias("churned")
    )
    table.write_csv(path)
    summary = platform.run("churn")
    assert not summary["success"]
    assert "target_nulls_within_limit" in summary["error"]
    assert "churned: 30 of 1500 rows have no target" in summary["error"]
    rejected = _rejected(platform)
    assert sorted(rejected["customer_id"].cast(pl.Int64).to_list()) == list(range(1, 31))
    assert _versions() == ["1"]


def test_unseen_category_is_rejected_and_warned(churn):
    platform, path = churn
    table = customers_table().with_columns(
        pl.when(pl.col("customer_id") == 11)
        .then(pl.lit("enterprise"))
        .otherwise(pl.col("plan"))
        .alias("plan")
    )
    table.write_csv(path)
    summary = platform.run("churn")
    assert summary["success"], summary
    warned = [
        c
        for c in summary["failed_checks"]
        if c["check"].endswith("values_within_allowed_categories")
    ]
    assert warned and warned[0]["severity"] == "WARN"
    assert "plan = 'enterprise' (1 rows)" in warned[0]["description"]
    assert _rejected(platform)["customer_id"].to_list() == ["11"]
