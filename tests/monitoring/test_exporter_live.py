"""The exporter against a real pipeline run and the online service after real traffic, both scraped
by a real Prometheus, and the dashboards and alert rules checked against the metric names they
really emit."""

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml

from mlops_assets.assets.predictions import IN_TRAINING_DATA
from mlops_assets.ingest.raw_batch import PARTITION
from tests.conftest import ROOT, churn_spec, customers_table, free_port, require_service
from tests.monitoring.promql_names import metric_names
from tests.online.conftest import raw_rows

pytestmark = pytest.mark.slow

SPEC = "churn_daily"
DAYS = 10
ROWS = 3000
BAD_ROWS = 15
WAIT_SECONDS = 180
SERVED_ROWS = 15


@dataclass
class ScoredPlatform:
    """A platform whose daily churn spec ran once: validated, trained, promoted, scored, drift-checked."""

    home: Path
    summary: dict


def daily_customers(path: Path) -> None:
    """Synthetic customers over ten days; the first rows have a negative tenure the spec rejects."""
    first = dt.date(2024, 1, 1)
    table = customers_table(ROWS).with_columns(
        (pl.lit(first) + pl.duration(days=pl.int_range(pl.len()) % DAYS)).alias("signup_date"),
        pl.when(pl.int_range(pl.len()) < BAD_ROWS)
        .then(-1)
        .otherwise(pl.col("tenure_months"))
        .alias("tenure_months"),
    )
    table.write_csv(path)


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoredPlatform]:
    root = tmp_path_factory.mktemp("monitoring")
    home, specs = root / "dagster_home", root / "specs"
    home.mkdir()
    specs.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    data = root / "customers.csv"
    daily_customers(data)
    spec = churn_spec(
        data,
        columns={"tenure_months": {"dtype": "int", "min": 0, "max": 120}},
        time={
            "column": "signup_date",
            "grain": "daily",
            "partitions": "daily",  # one series point per day partition
            "start": "2024-01-01",
            "end": "2024-01-11",
        },
        split={"valid_fraction": 0.15, "test_fraction": 0.2},
        quality={"min_test_metric": 0.55},
    )
    spec["name"] = SPEC
    (specs / f"{SPEC}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("MLOPS_BUILTIN_SPECS", "0")
        env.setenv("MLOPS_SPECS_PATH", str(specs))
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("MLOPS_DATA_ROOT", raising=False)
        from mlops_assets.cli import run_spec

        summary = run_spec(SPEC)
        assert summary["success"], summary
        yield ScoredPlatform(home, summary)


@dataclass
class Exporter:
    url: str
    port: int
    started_at: float


@pytest.fixture(scope="module")
def exporter(scored: ScoredPlatform) -> Iterator[Exporter]:
    """`mlops exporter` as a process on 127.0.0.1, refreshing every second."""
    port = free_port()
    log = scored.home / "exporter.log"
    command = [str(Path(sys.executable).parent / "mlops"), "exporter"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--interval", "1"]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(scored.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(scored.home.parent / "specs"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    started_at = time.time()
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            assert process.poll() is None, f"exporter exited: {log.read_text()}"
            try:
                get(url)
                break
            except OSError:
                assert time.monotonic() < deadline, f"exporter never served: {log.read_text()}"
                time.sleep(0.5)
        yield Exporter(url, port, started_at)
    finally:
        stop(process)


@dataclass
class Serving:
    url: str
    port: int
    answered: dict[str, int]


@pytest.fixture(scope="module")
def serving(scored: ScoredPlatform) -> Iterator[Serving]:
    """`mlops serve --spec churn_daily` as a process on 127.0.0.1, after some traffic: scored,
    refused (a rule broken) and malformed requests."""
    port = free_port()
    log = scored.home / "serve.log"
    command = [str(Path(sys.executable).parent / "mlops"), "serve", "--spec", SPEC]
    command += ["--host", "127.0.0.1", "--port", str(port), "--poll-seconds", "1"]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(scored.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(scored.home.parent / "specs"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            assert process.poll() is None, f"mlops serve exited: {log.read_text()}"
            try:
                get(f"{url}/v2/health/ready")
                break
            except OSError:
                assert time.monotonic() < deadline, f"mlops serve never ready: {log.read_text()}"
                time.sleep(0.5)
        raw = raw_rows(scored, SPEC)
        rows = json.loads(
            raw.filter(pl.col("tenure_months") != "-1").head(SERVED_ROWS).write_json()
        )
        answered = {"scored": 0, "rejected": 0, "bad_request": 0}
        for start in range(0, SERVED_ROWS, 3):
            assert post(f"{url}/predict", {"rows": rows[start : start + 3]}) == 200
            answered["scored"] += 1
        for row in rows[:2]:
            assert post(f"{url}/predict", {"rows": [row | {"tenure_months": "-1"}]}) == 422
            answered["rejected"] += 1
        assert post(f"{url}/predict", b"{") == 400
        answered["bad_request"] += 1
        yield Serving(url, port, answered)
    finally:
        stop(process)


def post(url: str, body) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def prometheus(
    exporter: Exporter, serving: Serving, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 scraping the exporter and the online service every second,
    with the repo's alert rules."""
    require_service(shutil.which("prometheus") is not None, "prometheus (Debian package)")
    folder = tmp_path_factory.mktemp("prometheus")
    shutil.copy(ROOT / "deploy" / "prometheus" / "alerts.yml", folder / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": "mlops", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]},
            {"job_name": "serving", "static_configs": [{"targets": [f"127.0.0.1:{serving.port}"]}]},
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = folder / "prometheus.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=output,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            assert process.poll() is None, f"prometheus exited: {log.read_text()}"
            try:
                get(f"{base}/-/ready")
                break
            except OSError:
                assert time.monotonic() < deadline, f"prometheus never ready: {log.read_text()}"
                time.sleep(0.5)
        yield base
    finally:
        stop(process)


def query(base: str, expr: str) -> list[dict]:
    """Instant query, retried until it has a result (the first scrapes take a few seconds)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        body = json.loads(get(url))
        assert body["status"] == "success", body
        if body["data"]["result"] or time.monotonic() > deadline:
            return body["data"]["result"]
        time.sleep(1)


def value(base: str, expr: str) -> float:
    result = query(base, expr)
    assert len(result) == 1, f"{expr}: {result}"
    return float(result[0]["value"][1])


def emitted_names(exposition: str) -> set[str]:
    """Metric names the exporter emits: every sample's name, and gauge or counter families that
    this run's spec leaves empty (e.g. class shares, which only multiclass specs have)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if kind in ("gauge", "counter"):
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(line.split("{")[0].split(" ")[0])
    return names


def test_prometheus_reads_back_what_the_pipeline_recorded(scored: ScoredPlatform, prometheus: str):
    from mlflow.tracking import MlflowClient

    on = f'spec="{SPEC}"'
    summary = scored.summary
    client = MlflowClient(f"sqlite:///{scored.home / 'mlflow' / 'mlflow.db'}")
    champion = client.get_model_version_by_alias(f"{SPEC}_model", "champion")
    assert value(prometheus, f"mlops_champion_version{{{on}}}") == int(champion.version)
    assert int(champion.version) == summary["champion_version"]
    assert value(
        prometheus, f'mlops_champion_test_metric{{{on}, metric="roc_auc"}}'
    ) == pytest.approx(summary["metrics"]["roc_auc"], abs=5e-5)  # metadata: 4 digits
    assert value(prometheus, f"mlops_champion_metric_floor{{{on}}}") == 0.55

    assert summary["rows_rejected"] == BAD_ROWS
    assert value(prometheus, f"mlops_validation_rejected_rows{{{on}}}") == BAD_ROWS
    assert value(prometheus, f"mlops_validation_valid_rows{{{on}}}") == ROWS - BAD_ROWS
    # the rule-breaking share (what quality.max_rejected_share limits), to 4 significant digits
    assert value(prometheus, f"mlops_validation_rejected_ratio{{{on}}}") == pytest.approx(
        BAD_ROWS / ROWS, rel=1e-3
    )

    scored_rows = pl.read_delta(str(scored.home / "tables" / SPEC / "predictions")).height
    assert scored_rows == ROWS - BAD_ROWS
    assert value(prometheus, f"mlops_scoring_rows{{{on}}}") == scored_rows
    buckets = {
        float(r["metric"]["upper_bound"]): float(r["value"][1])
        for r in query(prometheus, f"mlops_prediction_score_bucket_ratio{{{on}}}")
    }
    assert sorted(buckets) == [pytest.approx(0.1 * i) for i in range(1, 11)]
    assert sum(buckets.values()) == pytest.approx(1, abs=1e-6)
    median = value(prometheus, f"mlops_prediction_score_p50{{{on}}}")
    below = sum(share for bound, share in buckets.items() if bound < median)
    through = sum(share for bound, share in buckets.items() if bound < median + 0.1)
    assert below <= 0.5 <= through  # the median lies in the bucket the distribution says
    assert value(prometheus, f"mlops_scoring_duration_seconds{{{on}}}") > 0
    p50 = value(prometheus, f"mlops_scoring_batch_latency_p50_seconds{{{on}}}")
    assert 0 < p50 <= value(prometheus, f"mlops_scoring_batch_latency_p95_seconds{{{on}}}")
    labelled = urllib.parse.urlencode({"query": '{__name__=~"mlops_.*", quantile!=""}'})
    assert json.loads(get(f"{prometheus}/api/v1/query?{labelled}"))["data"]["result"] == []
    assert value(prometheus, 'process_resident_memory_bytes{job="mlops"}') > 0
    last_scoring = value(prometheus, f"mlops_scoring_last_success_timestamp_seconds{{{on}}}")
    assert last_scoring <= time.time()
    assert value(prometheus, f"mlops_scoring_model_version{{{on}}}") == int(champion.version)

    assert 0 <= value(prometheus, f"mlops_drift_features_drifted_ratio{{{on}}}") <= 1
    assert value(prometheus, f"mlops_drift_retrain_signal{{{on}}}") in (0, 1)
    severities = query(prometheus, f"mlops_feature_drift_severity{{{on}}}")
    assert 1 <= len(severities) <= 5
    # Only the days holding rows the model never trained on have a realized metric: a range
    # run gives each partition its own window's figures, not the whole range's.
    predictions = pl.read_delta(str(scored.home / "tables" / SPEC / "predictions"))
    unseen_days = (
        predictions.filter(~pl.col(IN_TRAINING_DATA)).get_column(PARTITION).unique().sort()
    )
    assert 0 < unseen_days.len() < DAYS
    realized = query(prometheus, f"mlops_realized_metric_by_partition{{{on}}}")
    assert sorted(r["metric"]["partition"] for r in realized) == [
        day.isoformat() for day in unseen_days
    ]
    assert 0 < value(prometheus, f"mlops_realized_metric{{{on}}}") <= 1

    assert value(prometheus, f'mlops_runs_total{{{on}, status="success"}}') == len(
        summary["run_ids"]
    )
    assert value(prometheus, f'mlops_runs_total{{{on}, status="failure"}}') == 0


def test_prometheus_reads_back_what_the_online_service_answered(
    scored: ScoredPlatform, serving: Serving, prometheus: str
):
    from mlflow.tracking import MlflowClient

    on = f'spec="{SPEC}"'
    client = MlflowClient(f"sqlite:///{scored.home / 'mlflow' / 'mlflow.db'}")
    champion = int(client.get_model_version_by_alias(f"{SPEC}_model", "champion").version)
    assert value(prometheus, f"mlops_serving_model_version{{{on}}}") == champion
    assert value(prometheus, f"mlops_serving_ready{{{on}}}") == 1
    for outcome, count in serving.answered.items():
        requests = f'mlops_serving_requests_total{{{on}, endpoint="predict", outcome="{outcome}"}}'
        assert value(prometheus, requests) == count
    assert value(prometheus, f'mlops_serving_rows_total{{{on}, outcome="scored"}}') == SERVED_ROWS
    assert value(prometheus, f'mlops_serving_rows_total{{{on}, outcome="rejected"}}') == 2
    answered = sum(serving.answered.values())
    latency = f'mlops_serving_request_duration_seconds_count{{{on}, endpoint="predict"}}'
    assert value(prometheus, latency) == answered
    buckets = f'mlops_serving_request_duration_seconds_bucket{{{on}, endpoint="predict"}}'
    assert 0 < value(prometheus, f"histogram_quantile(0.99, sum by (le) ({buckets}))") < 5
    # The inference log appends within its flush interval (2 s by default).
    written = f'mlops_serving_inference_log_rows_total{{{on}, outcome="written"}}'
    deadline = time.monotonic() + WAIT_SECONDS
    while value(prometheus, written) != SERVED_ROWS:
        assert time.monotonic() < deadline
        time.sleep(1)
    landing = pl.read_delta(str(scored.home / "tables" / SPEC / "_landing" / "inference_log"))
    assert landing.height == SERVED_ROWS


def test_alert_rules_load_and_evaluate_on_the_real_metrics(prometheus: str):
    query(prometheus, "mlops_exporter_spec_up")
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        groups = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if rules and all(rule.get("lastEvaluation", "").startswith("20") for rule in rules):
            break
        assert time.monotonic() < deadline, rules
        time.sleep(1)
    assert len(rules) == 13
    assert [r["name"] for r in rules if r["health"] != "ok"] == []
    firing = {r["name"] for r in rules if r["state"] == "firing"}
    # a fresh, healthy run: nothing is below its floor, late, rejected in excess or failed,
    # and the online service is ready, on the champion, fast and logging
    assert (
        firing
        & {
            "MlopsChampionMetricBelowFloor",
            "MlopsNoRecentScoring",
            "MlopsRejectedShareAboveLimit",
            "MlopsRunFailures",
            "MlopsExporterRefreshFailing",
            "MlopsServingErrors",
            "MlopsServingLatencyHigh",
            "MlopsServingNotReady",
            "MlopsServingBehindChampion",
            "MlopsServingInferenceLogFailing",
        }
        == set()
    )


def live_names(exporter: Exporter, serving: Serving) -> set[str]:
    """Every metric name the live exporter and the live online service emit."""
    return emitted_names(get(exporter.url).decode()) | emitted_names(
        get(f"{serving.url}/metrics").decode()
    )


def test_dashboard_queries_name_only_emitted_metrics(exporter: Exporter, serving: Serving):
    emitted = live_names(exporter, serving)
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "mlops.json").read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 20
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, f"panel {panel['title']!r}: no metric in {target['expr']!r}"
            assert names <= emitted, f"panel {panel['title']!r} names {names - emitted}"
    [variable] = dashboard["templating"]["list"]
    assert variable["name"] == "spec"
    assert variable["definition"].startswith("label_values(")
    assert variable["definition"].removeprefix("label_values(").split(",")[0] in emitted
    every_query = " ".join(t["expr"] for p in panels for t in p["targets"])
    for needed in (
        "mlops_champion_version",
        "mlops_champion_test_metric",
        "mlops_realized_metric_by_partition",
        "mlops_drift_features_drifted_ratio",
        "mlops_feature_drift_severity",
        "mlops_prediction_score_bucket_ratio",
        "mlops_scoring_duration_seconds",
        "mlops_scoring_batch_latency_p50_seconds",
        "mlops_runs_total",
        "mlops_validation_rejected_rows",
        "mlops_validation_rejected_ratio",
        "process_resident_memory_bytes",
        "mlops_scoring_last_success_timestamp_seconds",
        "mlops_serving_requests_total",
        "mlops_serving_request_duration_seconds_bucket",
        "mlops_serving_rows_total",
        "mlops_serving_model_version",
        "mlops_serving_ready",
        "mlops_serving_inference_log_rows_total",
    ):
        assert needed in every_query, f"no panel shows {needed}"
        assert 'spec=~"$spec"' in every_query


def test_alert_rules_name_only_emitted_metrics(exporter: Exporter, serving: Serving):
    emitted = live_names(exporter, serving)
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    for rule in (r for group in rules["groups"] for r in group["rules"]):
        names = metric_names(rule["expr"])
        assert names, f"{rule['alert']}: no metric in {rule['expr']!r}"
        assert names <= emitted, f"{rule['alert']} names {names - emitted}"
