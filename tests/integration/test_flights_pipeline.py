"""The default flights graph, on a three-week slice, against a real instance, MLflow store and Delta tables."""

from __future__ import annotations

import dagster as dg
import mlflow
import polars as pl
import pytest
from deltalake import DeltaTable

from mlops_assets.assets.metadata import names_of, table_rows
from mlops_assets.reproduce import rebuild_model_version
from tests.conftest import flights_slice_spec

pytestmark = pytest.mark.slow


@pytest.fixture
def flights_run(platform):
    platform.write_spec(flights_slice_spec())
    summary = platform.run("flights_slice")
    return platform, summary


def test_whole_graph_materializes_and_beats_baseline(flights_run):
    platform, summary = flights_run
    assert summary["success"], summary
    assert summary["partitions"] == ["2013-01-01", "2013-01-01"]  # one monthly partition
    assert summary["rows_ingested"] > 18_000
    assert summary["checks_passed"] >= 12
    assert {c["check"].split(":")[1] for c in summary["failed_checks"]} <= {
        "no_feature_drift",
        "no_prediction_drift",
    }
    assert summary["model_name"] == "flights_slice_model" and summary["model_version"] == 1
    assert 0.6 < summary["metrics"]["roc_auc"] <= 1.0
    instance = platform.instance()
    evaluation = instance.get_latest_materialization_event(
        dg.AssetKey(["flights_slice", "evaluation"])
    )
    metadata = evaluation.asset_materialization.metadata
    assert metadata["test_roc_auc"].value > metadata["baseline_roc_auc"].value == 0.5
    figures = {k: v.value for k, v in metadata.items() if k.startswith("figure_")}
    assert set(figures) == {
        "figure_roc_curve",
        "figure_pr_curve",
        "figure_calibration",
        "figure_confusion_matrix",
        "figure_feature_importance",
    }
    run_id = mlflow.MlflowClient().get_model_version("flights_slice_model", "1").run_id
    for key, shown in figures.items():  # one short markdown image each: rendered inline
        assert len(shown) < 1000 and shown.startswith("!["), (key, shown)
        assert f"/get-artifact?path=evaluation/figures/{key[7:]}.png&run_uuid={run_id}" in shown
    slices = table_rows(metadata["slices"])
    assert len(slices) >= 2 and all(row["rows"] > 0 for row in slices)
    assert metadata["slice_column"].value != "none"


def test_rejected_rows_are_exactly_the_flights_without_arrival_delay(flights_run):
    platform, summary = flights_run
    tables = platform.home / "tables" / "flights_slice"
    raw = pl.read_delta(str(tables / "raw"))
    validated = pl.read_delta(str(tables / "validated"))
    rejected = pl.read_delta(str(tables / "rejected_rows"))
    assert (
        rejected.height
        == raw.filter(pl.col("arr_delay").is_null()).height
        == summary["rows_rejected"]
        > 0
    )
    assert validated.height + rejected.height == raw.height
    assert rejected["_rejection_reasons"].str.contains("late_arrival: not_nullable").all()
    assert set(rejected["dep_time"].drop_nulls().to_list()) <= set(
        raw["dep_time"].cast(pl.String).to_list()
    )


def test_leaking_columns_never_reach_the_model(flights_run):
    platform, _ = flights_run
    event = platform.instance().get_latest_materialization_event(
        dg.AssetKey(["flights_slice", "model"])
    )
    features = names_of(event.asset_materialization.metadata["features"])
    assert not {"dep_delay", "dep_time", "arr_time", "air_time", "arr_delay", "late_arrival"} & set(
        features
    )
    assert {"carrier", "origin", "wx_temp", "plane_seats", "t_day_of_week"} <= set(features)


def test_every_table_version_is_kept_and_recorded(flights_run):
    platform, _ = flights_run
    instance = platform.instance()
    key = dg.AssetKey(["flights_slice", "training_set"])
    first = instance.get_latest_materialization_event(key).asset_materialization
    assert first.metadata["delta_version"].value == 0
    assert first.tags["dagster/data_version"]
    summary = platform.run("flights_slice")
    assert summary["success"] and summary["model_version"] == 2
    second = instance.get_latest_materialization_event(key).asset_materialization
    assert second.metadata["delta_version"].value == 1
    assert second.tags["dagster/data_version"] == first.tags["dagster/data_version"]
    table = DeltaTable(str(platform.home / "tables" / "flights_slice" / "training_set"))
    assert [h["version"] for h in table.history()][:2] == [1, 0]
    model = instance.get_latest_materialization_event(dg.AssetKey(["flights_slice", "model"]))
    assert model.asset_materialization.metadata["training_set_version"].value == 1


def test_a_model_version_rebuilds_to_identical_predictions(flights_run):
    from mlops_assets.definitions import build_resources
    from mlops_assets.specs import find_spec

    _platform, _summary = flights_run
    resources = build_resources()
    report = rebuild_model_version(
        find_spec("flights_slice"), "1", resources["delta"], resources["mlflow_tracking"]
    )
    assert report["identical"], report
    assert report["max_abs_prediction_difference"] == 0.0
    assert report["test_rows"] > 1000


def test_mlflow_holds_params_metrics_inputs_and_artifacts(flights_run):
    _, summary = flights_run
    client = mlflow.MlflowClient()
    version = client.get_model_version("flights_slice_model", "1")
    run = client.get_run(version.run_id)
    assert run.data.params["lgb.seed"] == "42"
    assert run.data.params["lgb.deterministic"] == "True"
    # the metadata carries 4 significant digits, MLflow the full figure
    assert run.data.metrics["test_roc_auc"] == pytest.approx(
        summary["metrics"]["roc_auc"], abs=5e-5
    )
    assert run.data.tags["mlops.training_set_version"] == "0"
    assert run.inputs.dataset_inputs[0].dataset.source
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "evaluation")}
    assert {
        "evaluation/evaluation.md",
        "evaluation/evaluation.png",
        "evaluation/calibration.csv",
        "evaluation/figures",
    } <= artifacts
    pictures = {a.path for a in client.list_artifacts(version.run_id, "evaluation/figures")}
    assert "evaluation/figures/roc_curve.png" in pictures and len(pictures) == 5
    assert {a.path for a in client.list_artifacts(version.run_id)} >= {"spec.json", "features.json"}
    model = mlflow.pyfunc.load_model("models:/flights_slice_model/1")
    assert model.metadata.signature is not None


def test_row_counts_are_per_partition_for_one_day_and_per_run_for_a_range(platform):
    """With daily partitions (`time.partitions: daily`), a range run labels its counts as the run's."""
    spec = flights_slice_spec(end="2013-01-08")
    spec["name"] = "flights_daily"
    spec["time"]["partitions"] = "daily"
    platform.write_spec(spec)
    summary = platform.run("flights_daily")
    assert summary["success"], summary
    instance = platform.instance()
    raw = dg.AssetKey(["flights_daily", "raw"])
    ranged = instance.get_latest_materialization_event(raw).asset_materialization
    assert "dagster/row_count" not in ranged.metadata
    assert ranged.metadata["rows_in_run"].value == summary["rows_ingested"]
    assert ranged.metadata["partitions_in_run"].value == 7
    one_day = platform.run("flights_daily", "2013-01-07", "2013-01-07")
    assert one_day["success"] and one_day["partitions"] == ["2013-01-07", "2013-01-07"]
    latest = instance.get_latest_materialization_event(raw).asset_materialization
    assert latest.partition == "2013-01-07"
    day_rows = pl.read_delta(str(platform.home / "tables" / "flights_daily" / "raw")).filter(
        pl.col("_partition") == pl.date(2013, 1, 7)
    )
    assert latest.metadata["dagster/row_count"].value == day_rows.height > 500
