"""The drift asset on real data: a shifted batch is flagged, named and turned into a retrain signal."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from mlops_assets.assets.metadata import names_of, table_rows
from tests.conftest import churn_spec, customers_table

pytestmark = pytest.mark.slow
SCORING = ["raw", "validated", "rejected_rows", "features", "predictions", "drift"]


def shifted_customers(rows: int = 1200, seed: int = 11, tenure_shift: int = 40) -> pl.DataFrame:
    table = customers_table(rows, seed=seed)
    return table.with_columns(
        (pl.col("tenure_months") + tenure_shift).alias("tenure_months"),
        (pl.col("monthly_spend") * 3).alias("monthly_spend"),
        pl.lit("pro").alias("plan"),
    )


def drift_spec(path) -> dict:
    return churn_spec(
        path,
        training={"num_boost_round": 100, "early_stopping_rounds": 10},
        retraining={"hard_drift_share": 0.5},
    )


def rescore(platform) -> dg.ExecuteInProcessResult:
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    return dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", name]) for name in SCORING],
        instance=platform.instance(),
        resources=build_resources(),
        raise_on_error=False,
    )


def _drift_metadata(platform) -> dict:
    event = platform.instance().get_latest_materialization_event(dg.AssetKey(["churn", "drift"]))
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def test_same_distribution_is_not_drift_and_a_shifted_batch_is(platform):
    path = platform.data / "customers.csv"
    customers_table(1200).write_csv(path)
    platform.write_spec(drift_spec(path))
    assert platform.run("churn")["success"]
    calm = _drift_metadata(platform)
    assert calm["dataset_drift"] is False and calm["retrain_signal"] is False
    assert calm["champion_version"] == 1

    shifted_customers().write_csv(path)
    result = rescore(platform)
    assert result.success
    moved = _drift_metadata(platform)
    assert moved["dataset_drift"] is True and moved["retrain_signal"] is True
    assert {"tenure_months", "monthly_spend", "plan"} <= set(names_of(moved["drifted_features"]))
    assert moved["drift_share"] == 1.0
    assert "tenure_months" in [row["column"] for row in table_rows(moved["feature_drift"])]
    assert moved["drift_severity_tenure_months"] > 1  # 1 is the threshold of its method
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["no_feature_drift"].passed
    assert checks["no_feature_drift"].severity == dg.AssetCheckSeverity.ERROR
    assert not checks["no_prediction_drift"].passed
    assert "realized roc_auc" in checks["no_performance_drop"].description
