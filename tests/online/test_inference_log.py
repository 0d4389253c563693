"""The inference log: what the service scored lands in Delta without personal data, shaped like
`features`, and the inference_log and online_drift assets materialize and read it."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from mlops_assets.online.inference_log import (
    LATENCY_SECONDS,
    MODEL_VERSION,
    PREDICTED_LABEL,
    PREDICTION,
    REQUEST_ID,
    REQUEST_ROW,
    REQUEST_TIME,
)
from sensors.bootstrap import PARTITION_RANGE_END, PARTITION_RANGE_START
from tests.online.conftest import daily_churn_spec, json_rows, module_platform, raw_rows, serving

pytestmark = pytest.mark.slow
LABELLED, UNLABELLED = 60, 60
LOG_ONLY = {
    PREDICTION,
    PREDICTED_LABEL,
    MODEL_VERSION,
    REQUEST_ID,
    REQUEST_ROW,
    REQUEST_TIME,
    LATENCY_SECONDS,
    "endpoint",
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A trained daily churn spec, then 120 rows it never trained on sent to its service (half of
    them with their label, every one with an e-mail address), in requests of 1 to 20 rows."""
    with module_platform(tmp_path_factory.mktemp("inference-log")) as platform:
        platform.write_spec(daily_churn_spec(platform.data / "customers.csv"))
        summary = platform.run("churn")
        assert summary["success"], summary
        # Online traffic is new rows: those the champion never trained on, as monitoring sees them.
        predictions = pl.read_delta(str(platform.home / "tables" / "churn" / "predictions"))
        unseen = predictions.filter(~pl.col("in_training_data"))["customer_id"]
        raw = raw_rows(platform, "churn").filter(pl.col("customer_id").is_in(unseen.implode()))
        rows = json_rows(raw.sample(LABELLED + UNLABELLED, seed=3))
        rows = [r | {"email": f"someone{i}@example.com"} for i, r in enumerate(rows)]
        for row in rows[LABELLED:]:
            del row["churned"]
        with serving("churn", log_max_seconds=0.3) as service:
            service.wait_ready()
            for start, size in ((0, 1), (1, 20), (21, 19), (40, 20), (60, 40), (100, 20)):
                chunk = rows[start : start + size]
                assert service.post("/predict", {"rows": chunk})[0] == 200
            assert service.post("/predict", {"rows": [rows[0] | {"plan": "gold"}]})[0] == 422
        yield platform, rows


def _landing(platform) -> pl.DataFrame:
    return pl.read_delta(str(platform.home / "tables" / "churn" / "_landing" / "inference_log"))


def test_every_scored_row_is_logged_once_with_its_answer_and_request(logged):
    platform, rows = logged
    log = _landing(platform)
    assert log.height == len(rows)  # the refused request is not logged
    assert sorted(log["customer_id"].to_list()) == sorted(r["customer_id"] for r in rows)
    assert log[REQUEST_ID].n_unique() == 6
    assert (
        log.group_by(REQUEST_ID)
        .agg(pl.col(REQUEST_ROW).sort())
        .select(
            pl.col(REQUEST_ROW).list.eval(pl.element() == pl.int_range(pl.len())).list.all().all()
        )
        .item()
    )
    assert log[MODEL_VERSION].unique().to_list() == ["1"]
    assert (log[LATENCY_SECONDS] > 0).all() and log[REQUEST_TIME].null_count() == 0
    assert log[PREDICTION].is_between(0, 1).all()
    assert log["endpoint"].unique().to_list() == ["predict"]


def test_no_personal_data_is_ever_stored(logged):
    platform, _ = logged
    log = _landing(platform)
    assert "email" not in log.columns
    text = [c for c, t in log.schema.items() if t == pl.String]
    assert (
        not log.select(pl.any_horizontal(pl.col(text).str.contains("@example.com")))
        .to_series()
        .any()
    )


def test_logged_rows_are_the_batch_features_of_the_same_rows(logged):
    platform, rows = logged
    log = _landing(platform).sort("customer_id")
    features = pl.read_delta(str(platform.home / "tables" / "churn" / "features"))
    assert set(features.columns) <= set(log.columns)
    assert set(log.columns) - set(features.columns) == LOG_ONLY
    for column in features.columns:
        assert log.schema[column] == features.schema[column], column
    batch = features.filter(pl.col("customer_id").is_in(log["customer_id"].implode())).sort(
        "customer_id"
    )
    labelled_ids = {r["customer_id"] for r in rows[:LABELLED]}
    for column in features.columns:
        if column == "churned":
            mine = log.filter(pl.col("customer_id").is_in(list(labelled_ids)))
            theirs = batch.filter(pl.col("customer_id").is_in(list(labelled_ids)))
            assert mine[column].to_list() == theirs[column].to_list()
            assert (
                log.filter(~pl.col("customer_id").is_in(list(labelled_ids)))[column].null_count()
                == UNLABELLED
            )
        else:
            assert log[column].to_list() == batch[column].to_list(), column


def _materialize(
    platform, selection: list[str], first: str, last: str
) -> dg.ExecuteInProcessResult:
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    return dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", name]) for name in selection],
        instance=platform.instance(),
        resources=build_resources(),
        tags={PARTITION_RANGE_START: first, PARTITION_RANGE_END: last},
    )


def test_the_inference_log_asset_materializes_a_window_of_the_landing_table(logged):
    platform, rows = logged
    day = max(rows, key=lambda r: r["signup_date"])["signup_date"]  # the last day, one of several
    assert len({r["signup_date"] for r in rows}) > 1
    result = _materialize(platform, ["inference_log"], day, day)
    assert result.success
    on_day = sum(r["signup_date"] == day for r in rows)
    table = pl.read_delta(str(platform.home / "tables" / "churn" / "inference_log"))
    assert on_day > 0 and table.height == on_day
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == on_day
    assert metadata["model_versions"].value == ["1"]
    assert metadata["delta_version"].value >= 0
    assert metadata["latency_p99_ms"].value >= metadata["latency_p50_ms"].value > 0
    schema = {c.name: c.description for c in metadata["dagster/column_schema"].value.columns}
    assert schema[PREDICTION].startswith("The model's answer")
    assert schema["customer_id"] == "Identifier of the row (spec id_columns)"


def test_online_drift_reads_the_log_and_joins_labels_by_id(logged):
    platform, rows = logged
    result = _materialize(platform, ["inference_log", "online_drift"], "2024-01-01", "2024-01-10")
    assert result.success
    events = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    log_meta = events["inference_log"].materialization.metadata
    assert log_meta["rows_in_run"].value == len(rows)
    assert log_meta["labelled_rows"].value == LABELLED
    drift = events["online_drift"].materialization.metadata
    assert drift["online_rows"].value == len(rows)
    assert drift["requests"].value == 6
    assert drift["champion_version"].value == 1
    assert drift["labelled_rows"].value == len(rows)  # the other 60 labels joined by customer_id
    assert 0 <= drift["drift_share"].value <= 1
    # The realized metric is the champion's ROC AUC on the logged rows with their labels.
    batch = pl.read_delta(str(platform.home / "tables" / "churn" / "predictions"))
    scored = batch.filter(pl.col("customer_id").is_in([r["customer_id"] for r in rows]))
    expected = roc_auc_score(scored["churned"].to_numpy(), scored["prediction"].to_numpy())
    assert drift["realized_roc_auc"].value == pytest.approx(expected, abs=5e-5)  # 4 digits
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {
        "no_online_feature_drift",
        "no_online_prediction_drift",
        "no_online_performance_drop",
    }
    assert "labelled online rows" in checks["no_online_performance_drop"].description
    report = pl.read_delta(str(platform.home / "tables" / "churn" / "online_drift"))
    assert {"tenure_months", "plan", "monthly_spend"} <= set(report["column"])
    assert report["champion_version"].unique().to_list() == ["1"]


def test_before_any_traffic_the_windows_are_empty_and_the_checks_pass(platform):
    from tests.conftest import churn_spec

    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=600))
    assert platform.run("churn")["success"]
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    result = dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", "inference_log"]), dg.AssetKey(["churn", "online_drift"])],
        instance=platform.instance(),
        resources=build_resources(),
    )
    assert result.success
    events = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    assert events["inference_log"].materialization.metadata["dagster/row_count"].value == 0
    assert events["online_drift"].materialization.metadata["online_rows"].value == 0
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 3 and all(c.passed for c in checks)
    assert {c.description for c in checks} == {"no online traffic in this window"}
