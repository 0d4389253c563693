"""Champion and challenger: the gate promotes only a good enough model; rollback restores the old one."""

from __future__ import annotations

import dagster as dg
import mlflow
import polars as pl
import pytest

from mlops_assets.assets.metadata import table_rows
from mlops_assets.serving.champion import CHAMPION, PREVIOUS_CHAMPION
from tests.conftest import churn_spec, customers_table

pytestmark = pytest.mark.slow


def gated_churn_spec(path, **training) -> dict:
    return churn_spec(
        path,
        training={"num_boost_round": 200, "early_stopping_rounds": 20, **training},
        promotion={"max_metric_drop": 0.05},
    )


def _alias(alias: str) -> str:
    return str(mlflow.MlflowClient().get_model_version_by_alias("churn_model", alias).version)


def _predictions(platform) -> pl.DataFrame:
    return pl.read_delta(str(platform.home / "tables" / "churn" / "predictions")).sort(
        "customer_id"
    )


def _rescore(platform) -> None:
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    result = dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", "predictions"])],
        instance=platform.instance(),
        resources=build_resources(),
    )
    assert result.success


@pytest.fixture
def churn(platform):
    path = platform.data / "customers.csv"
    customers_table(1200).write_csv(path)
    platform.write_spec(gated_churn_spec(path))
    first = platform.run("churn")
    assert first["success"], first
    assert first["promotion"] == "promoted" and first["champion_version"] == 1
    return platform, path


def test_first_model_is_promoted_and_scores_every_row(churn):
    platform, _ = churn
    assert _alias(CHAMPION) == "1"
    predictions = _predictions(platform)
    assert predictions.height == 1200
    assert predictions["model_version"].unique().to_list() == ["1"]
    assert predictions["prediction"].is_between(0, 1).all()
    event = platform.instance().get_latest_materialization_event(
        dg.AssetKey(["churn", "predictions"])
    )
    metadata = event.asset_materialization.metadata
    assert metadata["rows_per_second"].value > 0
    assert metadata["latency_p95_ms"].value >= metadata["latency_p50_ms"].value > 0
    assert 0 < metadata["prediction_p50"].value < 1


def test_a_worse_challenger_is_rejected_and_the_champion_stays(churn):
    platform, path = churn
    platform.write_spec(
        gated_churn_spec(
            path,
            num_boost_round=1,
            params={"num_leaves": 2, "learning_rate": 0.0001, "min_data_in_leaf": 500},
        )
    )
    summary = platform.run("churn")
    assert not summary["success"]
    assert "churn/promotion:challenger_not_worse_than_champion" in summary["error"]
    assert summary["model_version"] == 2
    assert _alias(CHAMPION) == "1"
    decision = platform.instance().get_latest_materialization_event(
        dg.AssetKey(["churn", "promotion"])
    )
    metadata = decision.asset_materialization.metadata
    assert metadata["decision"].value == "rejected"
    assert metadata["champion_before"].value == "1"
    assert any("vs champion v1" in row["detail"] for row in table_rows(metadata["evidence"]))
    version = mlflow.MlflowClient().get_model_version("churn_model", "2")
    assert "challenger_not_worse_than_champion" in version.tags["mlops.rejected_reason"]

    # The model-versions view: every version with its decision and alias, newest first, and the
    # champion beside the rejected challenger, linked to MLflow's compare view.
    versions = table_rows(metadata["model_versions"])
    assert [(v["version"], v["gate"], v["aliases"]) for v in versions] == [
        (2, "rejected", ""),
        (1, "promoted", "champion"),
    ]
    client = mlflow.MlflowClient()
    for row in versions:
        run = client.get_run(client.get_model_version("churn_model", str(row["version"])).run_id)
        assert row["test_metric"] == pytest.approx(run.data.metrics["test_roc_auc"], abs=5e-5)
        assert row["training_set_version"] == int(run.data.tags["mlops.training_set_version"])
    side = {row["metric"]: row for row in table_rows(metadata["champion_vs_challenger"])}
    assert side["test_roc_auc"]["champion"] == pytest.approx(versions[1]["test_metric"], abs=5e-5)
    assert side["test_roc_auc"]["challenger"] == pytest.approx(versions[0]["test_metric"], abs=5e-5)
    runs = [client.get_model_version("churn_model", v).run_id for v in ("1", "2")]
    compare = metadata["mlflow_compare"].value
    assert compare.startswith("http") and "#/compare-runs?runs=" in compare
    assert all(run in compare for run in runs)


def test_rollback_restores_the_previous_champion_and_its_predictions(churn):
    platform, path = churn
    first = _predictions(platform)
    platform.write_spec(
        gated_churn_spec(
            path,
            seed=7,
            params={"feature_fraction": 0.7, "bagging_fraction": 0.7, "bagging_freq": 1},
        )
    )
    second = platform.run("churn")
    assert second["success"] and second["promotion"] == "promoted"
    assert _alias(CHAMPION) == "2" and _alias(PREVIOUS_CHAMPION) == "1"
    replaced = _predictions(platform)
    assert replaced["model_version"].unique().to_list() == ["2"]
    assert replaced["prediction"].to_list() != first["prediction"].to_list()

    from mlops_assets.cli import main

    assert main(["rollback", "--spec", "churn", "--reason", "v2 misbehaves on new stores"]) == 0
    assert _alias(CHAMPION) == "1" and _alias(PREVIOUS_CHAMPION) == "2"
    _rescore(platform)
    restored = _predictions(platform)
    assert restored["model_version"].unique().to_list() == ["1"]
    assert restored["prediction"].to_list() == first["prediction"].to_list()
    tags = mlflow.MlflowClient().get_model_version("churn_model", "1").tags
    assert tags["mlops.rollback_reason"] == "v2 misbehaves on new stores"
    assert tags["mlops.rollback_by"].startswith("cli:")
    history = (
        platform.instance()
        .fetch_materializations(dg.AssetKey(["churn", "promotion"]), limit=5)
        .records
    )
    assert history[0].asset_materialization.metadata["decision"].value == "rollback"


def test_scheduled_retraining_job_is_tagged_and_selects_the_training_assets():
    from mlops_assets.definitions import build_definitions

    defs = build_definitions()
    schedule = defs.resolve_schedule_def("flights_scheduled_retraining")
    assert schedule.cron_schedule == "0 3 * * 1"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        [request] = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance)
        ).run_requests
    assert request.tags["mlops/trigger"] == "schedule"
    job = defs.resolve_job_def("flights_retraining")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "flights/training_set",
        "flights/model",
        "flights/evaluation",
        "flights/promotion",
        "flights/model_card",
    }
