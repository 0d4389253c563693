"""Specs of other shapes: no time column, regression, multiclass, odd CSV dialects, PII."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pytest

from mlops_assets.assets.metadata import names_of
from tests.conftest import customers_table

pytestmark = pytest.mark.slow


def test_table_without_time_column_trains_on_a_seeded_random_split(platform):
    table = customers_table()
    path = platform.data / "customers.csv"
    table.write_csv(path)
    platform.write_spec(
        {
            "name": "churn",
            "owner": "churn-team@example.com",
            "source": {"uri": str(path)},
            "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
            "id_columns": ["customer_id"],
            "pii": {"columns": ["email"], "action": "drop"},
            "columns": {
                "plan": {"dtype": "string", "allowed": ["basic", "plus", "pro"]},
                "tenure_months": {"dtype": "int", "min": 0},
            },
            "training": {"num_boost_round": 200, "early_stopping_rounds": 20},
        }
    )
    summary = platform.run("churn")
    assert summary["success"], summary
    assert summary["partitions"] == [None, None]
    assert summary["rows_ingested"] == 1500 and summary["rows_rejected"] == 0
    assert summary["metrics"]["roc_auc"] > 0.6
    raw = pl.read_delta(str(platform.home / "tables" / "churn" / "raw"))
    assert "email" not in raw.columns
    features = platform.instance().get_latest_materialization_event(dg.AssetKey(["churn", "model"]))
    assert "customer_id" not in names_of(features.asset_materialization.metadata["features"])


def test_regression_with_weekly_time_partitions_semicolons_and_decimal_commas(platform):
    rng = np.random.default_rng(3)
    days = pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 6, 30), eager=True)
    n = len(days) * 20
    when = np.repeat(days.to_numpy(), 20)
    size = rng.uniform(30, 200, n)
    region = rng.choice(["north", "south", "east", None], n)
    price = 1000 + 12 * size + np.where(region == "south", 400, 0) + rng.normal(0, 50, n)
    frame = pl.DataFrame(
        {
            "sold_on": [
                d.strftime("%d/%m/%Y") for d in when.astype("datetime64[D]").astype(object)
            ],
            "size_m2": [f"{v:.1f}".replace(".", ",") for v in size],
            "region": region,
            "price": [f"{v:.2f}".replace(".", ",") for v in price],
        }
    )
    path = platform.data / "houses.csv"
    frame.write_csv(path, separator=";", null_value="n/a")
    platform.write_spec(
        {
            "name": "house_prices",
            "source": {
                "uri": str(path),
                "csv": {"separator": ";", "null_values": ["n/a"], "decimal_comma": True},
            },
            "target": {"column": "price", "task": "regression"},
            "time": {
                "column": "sold_on",
                "format": "%d/%m/%Y",
                "grain": "weekly",
                "start": "2024-01-01",
                "end": "2024-07-01",
            },
            "columns": {"size_m2": {"dtype": "float", "min": 0}, "price": {"dtype": "float"}},
            "training": {"num_boost_round": 300, "early_stopping_rounds": 30},
        }
    )
    summary = platform.run("house_prices")
    assert summary["success"], summary
    assert summary["rows_ingested"] == n
    assert summary["metrics"]["r2"] > 0.8
    assert summary["metrics"]["rmse"] < 150


def test_multiclass_from_parquet_glob(platform):
    rng = np.random.default_rng(5)
    for part in range(3):
        x = rng.normal(size=(400, 2))
        label = np.where(x[:, 0] > 0.5, "high", np.where(x[:, 0] < -0.5, "low", "mid"))
        pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": label}).write_parquet(
            platform.data / f"part{part}.parquet"
        )
    platform.write_spec(
        {
            "name": "levels",
            "source": {"uri": str(platform.data / "part*.parquet")},
            "target": {"column": "label", "task": "multiclass"},
            "training": {"num_boost_round": 200, "early_stopping_rounds": 20},
        }
    )
    summary = platform.run("levels")
    assert summary["success"], summary
    assert summary["rows_ingested"] == 1200
    assert summary["metrics"]["macro_f1"] > 0.8


def test_pii_is_replaced_by_a_keyed_hash(platform, monkeypatch):
    monkeypatch.setenv("MLOPS_PII_KEY", "test-secret-key")
    table = customers_table(400)
    path = platform.data / "customers.csv"
    table.write_csv(path)
    platform.write_spec(
        {
            "name": "churn_hashed",
            "source": {"uri": str(path)},
            "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
            "id_columns": ["customer_id"],
            "pii": {"columns": ["email"], "action": "hash"},
            "training": {"num_boost_round": 50, "early_stopping_rounds": 10},
        }
    )
    summary = platform.run("churn_hashed")
    assert summary["success"], summary
    raw = pl.read_delta(str(platform.home / "tables" / "churn_hashed" / "raw"))
    assert raw["email"].n_unique() == 400
    assert not raw["email"].str.contains("@").any()
