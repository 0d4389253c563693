"""The online service on a real server: valid and invalid requests, the Open Inference Protocol
v2 endpoints and /metrics, against a daily churn model trained by the real pipeline."""

from __future__ import annotations

import concurrent.futures

import mlflow
import polars as pl
import pytest

from tests.online.conftest import daily_churn_spec, json_rows, module_platform, raw_rows, serving

pytestmark = pytest.mark.slow
MODEL = "churn_model"


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    with module_platform(tmp_path_factory.mktemp("online-api")) as platform:
        spec = daily_churn_spec(platform.data / "customers.csv")
        platform.write_spec(spec)
        platform.write_spec({**spec, "name": "churn_untrained"})
        summary = platform.run("churn")
        assert summary["success"], summary
        yield platform, summary


@pytest.fixture(scope="module")
def served(churn):
    with serving("churn") as service:
        service.wait_ready()
        yield service


@pytest.fixture(scope="module")
def rows(churn) -> list[dict]:
    """Raw rows of the batch path (text where the spec declares a type), with an e-mail address
    as a client would send it."""
    platform, _ = churn
    frame = raw_rows(platform, "churn").head(40)
    return [row | {"email": f"person{i}@example.com"} for i, row in enumerate(json_rows(frame))]


def _champion() -> mlflow.entities.model_registry.ModelVersion:
    return mlflow.MlflowClient().get_model_version_by_alias(MODEL, "champion")


def test_a_valid_request_is_answered_with_scores_at_the_threshold_and_the_version(
    churn, served, rows
):
    _, summary = churn
    status, answer = served.post("/predict", {"rows": rows[:5]})
    assert status == 200, answer
    champion = _champion()
    threshold = float(
        mlflow.MlflowClient().get_run(champion.run_id).data.params["decision_threshold"]
    )
    assert answer["model_name"] == MODEL
    assert answer["model_version"] == str(champion.version) == str(summary["champion_version"])
    assert answer["threshold"] == threshold
    assert len(answer["predictions"]) == 5
    for prediction in answer["predictions"]:
        assert 0 <= prediction["probability"] <= 1
        assert prediction["label"] == int(prediction["probability"] >= threshold)


def test_online_scores_equal_the_batch_predictions_of_the_same_rows(churn, served, rows):
    platform, _ = churn
    batch = pl.read_delta(str(platform.home / "tables" / "churn" / "predictions"))
    expected = dict(zip(batch["customer_id"], batch["prediction"], strict=True))
    status, answer = served.post("/predict", {"rows": rows})
    assert status == 200, answer
    online = [p["probability"] for p in answer["predictions"]]
    assert online == [expected[row["customer_id"]] for row in rows]


def test_numbers_sent_as_json_numbers_score_like_the_text_a_file_holds(served, rows):
    typed = [
        row
        | {"tenure_months": int(row["tenure_months"]), "monthly_spend": float(row["monthly_spend"])}
        for row in rows[:10]
    ]
    assert served.post("/predict", {"rows": typed}) == served.post("/predict", {"rows": rows[:10]})


@pytest.mark.parametrize(
    "change, column, rule, value",
    [
        ({"tenure_months": "-3"}, "tenure_months", "in_range(0.0, 120.0)", "-3"),
        ({"tenure_months": "abc"}, "tenure_months", "dtype(int)", "abc"),
        ({"tenure_months": None}, "tenure_months", "not_nullable", None),
        ({"plan": "gold"}, "plan", "isin(['basic', 'plus', 'pro'])", "gold"),
        ({"monthly_spend": "-1.5"}, "monthly_spend", "greater_than_or_equal_to(0.0)", "-1.5"),
        ({"customer_id": None}, "customer_id", "not_nullable", None),
        ({"customer_id": "C-1"}, "customer_id", "dtype(int)", "C-1"),
        ({"signup_date": "sometime"}, "signup_date", "time_parses", "sometime"),
        ({"colour": "red"}, "colour", "column_known", None),
    ],
)
def test_a_row_that_breaks_a_rule_gets_a_422_naming_row_column_and_rule(
    served, rows, change, column, rule, value
):
    bad = rows[2] | change
    status, answer = served.post("/predict", {"rows": [rows[0], rows[1], bad]})
    assert status == 422, answer
    assert answer["model_name"] == MODEL and answer["model_version"] == str(_champion().version)
    assert "predictions" not in answer
    found = [(e["row"], e["column"], e["rule"]) for e in answer["errors"]]
    assert (2, column, rule) in found, answer
    assert {e["row"] for e in answer["errors"]} == {2}
    if value is not None:
        assert value in {e["value"] for e in answer["errors"]}
    assert f"row 2: {column}: {rule}" in answer["error"]


def test_a_missing_column_and_a_repeated_id_are_named_too(served, rows):
    missing = {k: v for k, v in rows[0].items() if k != "plan"}
    status, answer = served.post("/predict", {"rows": [missing]})
    assert status == 422
    assert [(e["row"], e["column"], e["rule"]) for e in answer["errors"]] == [
        (0, "plan", "column_present")
    ]
    status, answer = served.post("/predict", {"rows": [rows[0], rows[1], rows[0]]})
    assert status == 422
    assert {(e["row"], e["column"], e["rule"]) for e in answer["errors"]} >= {
        (0, "customer_id", "field_uniqueness"),
        (2, "customer_id", "field_uniqueness"),
    }


def test_a_bad_request_does_not_harm_the_requests_batched_with_it(served, rows):
    bodies = [{"rows": [rows[i]]} for i in range(12)]
    bodies[5] = {"rows": [rows[5] | {"plan": "gold"}]}
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda body: served.post("/predict", body), bodies))
    assert [status for status, _ in results] == [200] * 5 + [422] + [200] * 6
    alone = [served.post("/predict", body)[1]["predictions"] for body in bodies[:5]]
    assert [answer["predictions"] for _, answer in results[:5]] == alone


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not JSON"),
        ({"rows": "all of them"}, "expected"),
        ({"rows": []}, "no rows"),
        ({"rows": [["a list"]]}, "JSON object"),
    ],
)
def test_a_body_that_is_not_rows_is_a_400(served, body, message):
    status, answer = served.post("/predict", body)
    assert status == 400, answer
    assert message in answer["error"]


def test_a_value_that_is_not_a_json_scalar_is_refused_naming_row_and_column(served, rows):
    status, answer = served.post("/predict", {"rows": [rows[0], rows[1] | {"plan": {"a": 1}}]})
    assert status == 422
    assert [(e["row"], e["column"], e["rule"], e["value"]) for e in answer["errors"]] == [
        (1, "plan", "scalar_value", "dict")
    ]


def test_health_and_server_metadata(served):
    assert served.get("/v2/health/live") == (200, {"live": True})
    assert served.get("/v2/health/ready") == (200, {"ready": True})
    assert served.get(f"/v2/models/{MODEL}/ready") == (200, {"name": MODEL, "ready": True})
    status, meta = served.get("/v2")
    assert status == 200 and meta["name"] == "mlops-assets" and meta["extensions"] == []


def test_model_metadata_reports_the_serving_version_and_the_raw_columns(served):
    status, meta = served.get(f"/v2/models/{MODEL}")
    assert status == 200
    assert meta["name"] == MODEL and meta["versions"] == [str(_champion().version)]
    assert meta["platform"] == "lightgbm_booster"
    inputs = {t["name"]: t["datatype"] for t in meta["inputs"]}
    assert inputs == {
        "customer_id": "INT64",
        "tenure_months": "INT64",
        "plan": "BYTES",
        "monthly_spend": "FP64",
        "churned": "BYTES",
        "signup_date": "BYTES",
        "email": "BYTES",
    }
    assert all(t["shape"] == [-1] for t in meta["inputs"])
    assert meta["outputs"] == [
        {"name": "probability", "datatype": "FP64", "shape": [-1]},
        {"name": "label", "datatype": "INT64", "shape": [-1]},
    ]
    assert served.get(f"/v2/models/{MODEL}/versions/{_champion().version}")[1] == meta
    assert served.get(f"/v2/models/{MODEL}/versions/999")[0] == 404
    status, error = served.get("/v2/models/other_model")
    assert status == 404 and "churn_model" in error["error"]


def _tensors(rows: list[dict], datatypes: dict[str, str]) -> list[dict]:
    return [
        {"name": name, "shape": [len(rows)], "datatype": datatype, "data": [r[name] for r in rows]}
        for name, datatype in datatypes.items()
    ]


V2_TYPES = {
    "customer_id": "INT64",
    "tenure_months": "INT64",
    "plan": "BYTES",
    "monthly_spend": "FP64",
    "signup_date": "BYTES",
}


def _typed(rows: list[dict]) -> list[dict]:
    return [
        r | {"tenure_months": int(r["tenure_months"]), "monthly_spend": float(r["monthly_spend"])}
        for r in rows
    ]


def test_v2_inference_answers_named_tensors_equal_to_predict(served, rows):
    batch = _typed(rows[:6])
    status, answer = served.post(
        f"/v2/models/{MODEL}/infer", {"id": "req-42", "inputs": _tensors(batch, V2_TYPES)}
    )
    assert status == 200, answer
    assert answer["model_name"] == MODEL and answer["model_version"] == str(_champion().version)
    assert answer["id"] == "req-42"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert list(outputs) == ["probability", "label"]
    assert outputs["probability"]["shape"] == [6] and outputs["probability"]["datatype"] == "FP64"
    assert outputs["label"]["datatype"] == "INT64"
    _, rest = served.post("/predict", {"rows": rows[:6]})
    assert outputs["probability"]["data"] == [p["probability"] for p in rest["predictions"]]
    assert outputs["label"]["data"] == [p["label"] for p in rest["predictions"]]
    only = served.post(
        f"/v2/models/{MODEL}/versions/{_champion().version}/infer",
        {"inputs": _tensors(batch, V2_TYPES), "outputs": [{"name": "label"}]},
    )[1]
    assert [o["name"] for o in only["outputs"]] == ["label"]
    assert only["id"]  # the server's own request id when the client sends none


def test_v2_inference_accepts_column_tensors_shaped_n_by_1(served, rows):
    batch = _typed(rows[:3])
    inputs = [
        t | {"shape": [3, 1], "data": [[v] for v in t["data"]]} for t in _tensors(batch, V2_TYPES)
    ]
    status, answer = served.post(f"/v2/models/{MODEL}/infer", {"inputs": inputs})
    assert status == 200, answer


def test_v2_inference_refuses_bad_rows_and_bad_tensors_with_the_reason(served, rows):
    batch = _typed(rows[:3])
    batch[1] = batch[1] | {"plan": "gold"}
    status, answer = served.post(f"/v2/models/{MODEL}/infer", {"inputs": _tensors(batch, V2_TYPES)})
    assert status == 422
    assert [(e["row"], e["column"], e["rule"]) for e in answer["errors"]] == [
        (1, "plan", "isin(['basic', 'plus', 'pro'])")
    ]
    tensors = _tensors(_typed(rows[:3]), V2_TYPES)
    tensors[0]["shape"] = [4]
    status, answer = served.post(f"/v2/models/{MODEL}/infer", {"inputs": tensors})
    assert status == 400 and "shape [4] holds 4 values, data has 3" in answer["error"]
    tensors = _tensors(_typed(rows[:3]), V2_TYPES | {"plan": "FP64"})
    status, answer = served.post(f"/v2/models/{MODEL}/infer", {"inputs": tensors})
    assert status == 400 and "a FP64 tensor holds str values" in answer["error"]
    tensors = _tensors(_typed(rows[:3]), {k: v for k, v in V2_TYPES.items() if k != "plan"})
    status, answer = served.post(f"/v2/models/{MODEL}/infer", {"inputs": tensors})
    assert status == 422
    assert answer["errors"] == [
        {"row": None, "column": "plan", "rule": "column_present", "value": None}
    ]
    status, answer = served.post(
        f"/v2/models/{MODEL}/infer",
        {"inputs": _tensors(_typed(rows[:3]), V2_TYPES), "outputs": [{"name": "value"}]},
    )
    assert status == 400 and "unknown output" in answer["error"]
    assert served.post("/v2/models/other_model/infer", {"inputs": []})[0] == 404


def test_metrics_count_requests_rows_and_name_the_serving_version(served, rows):
    before = _samples(served.get("/metrics")[1])
    served.post("/predict", {"rows": rows[:4]})
    served.post("/predict", {"rows": [rows[0] | {"plan": "gold"}]})
    served.post("/predict", b"{")
    text = served.get("/metrics")[1]
    after = _samples(text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted({"spec": "churn", **labels}.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("mlops_serving_requests_total", endpoint="predict", outcome="scored") == 1
    assert grew("mlops_serving_requests_total", endpoint="predict", outcome="rejected") == 1
    assert grew("mlops_serving_requests_total", endpoint="predict", outcome="bad_request") == 1
    assert grew("mlops_serving_rows_total", outcome="scored") == 4
    assert grew("mlops_serving_rows_total", outcome="rejected") == 1
    assert grew("mlops_serving_request_duration_seconds_count", endpoint="predict") == 3
    version = str(_champion().version)
    assert after[("mlops_serving_model_version", (("model", MODEL), ("spec", "churn")))] == int(
        version
    )
    [info] = [labels for (name, labels) in after if name == "mlops_serving_model_info"]
    assert dict(info) | {"threshold": "-"} == {
        "spec": "churn",
        "model": MODEL,
        "version": version,
        "threshold": "-",
    }
    assert after[("mlops_serving_ready", (("spec", "churn"),))] == 1


def _samples(exposition: str) -> dict[tuple, float]:
    """Sample values of a Prometheus text exposition, keyed by name and sorted labels."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def test_a_spec_without_a_champion_is_live_but_not_ready(churn, rows):
    with serving("churn_untrained") as service:
        assert service.get("/v2/health/live") == (200, {"live": True})
        assert service.get("/v2/health/ready") == (503, {"ready": False})
        assert service.get("/v2/models/churn_untrained_model/ready")[0] == 503
        status, answer = service.post("/predict", {"rows": rows[:1]})
        assert status == 503 and "no model loaded" in answer["error"]
        metrics = service.get("/metrics")[1]
        assert 'mlops_serving_ready{spec="churn_untrained"} 0.0' in metrics
        assert (
            'mlops_serving_requests_total{endpoint="predict",outcome="unavailable",spec="churn_untrained"} 1.0'
            in metrics
        )
        # No raw table yet: the request columns come from the source as the batch path reads it.
        assert set(service.service.schema.columns) == set(rows[0])
