"""The production stack for real: Compose up, runs launched through GraphQL into containers.

One stack per module (tests/deployment/conftest.py): the project image built from the
repository's Dockerfile, Postgres, MLflow, the user-code server, both webservers, the daemon
with DockerRunLauncher, the exporter and the authenticating proxy, all on loopback ports.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from urllib.parse import quote

import docker
import psycopg2
import pytest

from tests.conftest import ROOT
from tests.deployment.compose_stack import (
    BACKFILL_SPEC,
    EXPORTER_URL,
    IMAGE,
    MLFLOW_URL,
    POSTGRES_PORT,
    PROXY_URL,
    READONLY_URL,
    SERVING_URL,
    WEBSERVER_URL,
)
from tests.deployment.graphql_api import FINISHED, DagsterGraphQL, http_status, tags_of

pytestmark = pytest.mark.slow


def operator(stack) -> DagsterGraphQL:
    """The full webserver, reached the way an operator reaches it: through the proxy."""
    return DagsterGraphQL(PROXY_URL, stack.secrets["PROXY_USER"], stack.secrets["PROXY_PASSWORD"])


def query_dagster_db(stack, sql: str, *params) -> list[tuple]:
    connection = psycopg2.connect(
        host="127.0.0.1",
        port=POSTGRES_PORT,
        user=stack.secrets["POSTGRES_USER"],
        password=stack.secrets["POSTGRES_PASSWORD"],
        dbname="dagster",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def churn_run(stack) -> dict:
    """The whole churn group materialized by one run launched through GraphQL."""
    client = operator(stack)
    paths = client.group_asset_paths("churn")
    assert ["churn", "model"] in paths, paths
    launched = client.launch_assets(paths, {"mlops/spec": "churn", "mlops/trigger": "test"})
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run = client.wait_for_run(launched["run"]["runId"])
    assert run["status"] == "SUCCESS", f"{run}\n{stack.diagnostics()}"
    return run


def test_a_run_launched_through_graphql_succeeds_in_its_own_container(stack, churn_run):
    container_id = tags_of(churn_run)["docker/container_id"]
    container = docker.from_env(timeout=60).containers.get(container_id)
    assert container.labels["dagster/run_id"] == churn_run["runId"]
    assert IMAGE in container.image.tags
    # The run is reported finished just before its process exits.
    assert container.wait(timeout=120)["StatusCode"] == 0
    assert "DAGSTER_HOME=/opt/dagster/production" in container.attrs["Config"]["Env"]
    assert container.attrs["Config"]["User"] == "10001:10001"
    mounted = {mount["Destination"]: mount for mount in container.attrs["Mounts"]}
    assert mounted["/data"]["Name"] == f"{stack.project}_delta"
    assert mounted["/specs"]["RW"] is False


def test_the_runs_materializations_and_checks_are_in_postgres(stack, churn_run):
    run_id = churn_run["runId"]
    [(status,)] = query_dagster_db(stack, "SELECT status FROM runs WHERE run_id = %s", run_id)
    assert status == "SUCCESS"
    materialized = {
        key
        for (key,) in query_dagster_db(
            stack,
            "SELECT DISTINCT asset_key FROM event_logs"
            " WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            run_id,
        )
    }
    for asset in ("raw", "validated", "features", "model", "evaluation", "promotion"):
        assert f'["churn", "{asset}"]' in materialized, materialized
    checks = query_dagster_db(
        stack,
        "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
        run_id,
    )
    assert ("rejected_share_within_limit", "SUCCEEDED") in checks


def test_the_model_is_registered_in_the_mlflow_server(stack, churn_run):
    import json
    import urllib.request

    url = f"{MLFLOW_URL}/api/2.0/mlflow/registered-models/get?name={quote('churn_model')}"
    with urllib.request.urlopen(url, timeout=30) as response:
        model = json.load(response)["registered_model"]
    assert [alias["alias"] for alias in model.get("aliases", [])] == ["champion"]
    version = model["aliases"][0]["version"]
    url = f"{MLFLOW_URL}/api/2.0/mlflow/model-versions/get?name=churn_model&version={version}"
    with urllib.request.urlopen(url, timeout=30) as response:
        model_version = json.load(response)["model_version"]
    assert model_version["status"] == "READY"
    # The run's artifacts went through the server's artifact proxy into its volume.
    assert model_version["source"].startswith(("mlflow-artifacts:", "models:/"))


def test_the_read_only_webserver_refuses_to_launch_a_run(stack, churn_run):
    marker = secrets.token_hex(4)
    analyst = DagsterGraphQL(READONLY_URL)
    paths = analyst.group_asset_paths("churn")
    refused = analyst.launch_assets(paths, {"mlops/test-marker": marker})
    assert refused["__typename"] == "UnauthorizedError", refused
    assert operator(stack).runs_tagged("mlops/test-marker", marker) == []
    # It still shows what happened: the run launched through the full webserver.
    assert analyst.run(churn_run["runId"])["status"] == "SUCCESS"


def test_the_proxy_lets_in_only_the_configured_operator(stack):
    user, password = stack.secrets["PROXY_USER"], stack.secrets["PROXY_PASSWORD"]
    assert http_status(f"{PROXY_URL}/server_info") == 401
    assert http_status(f"{PROXY_URL}/server_info", user, password + "x") == 401
    assert http_status(f"{PROXY_URL}/server_info", user, password) == 200
    # Behind it, the full webserver itself listens on loopback only.
    assert http_status(f"{WEBSERVER_URL}/server_info") == 200


def test_the_exporter_serves_prometheus_metrics(stack):
    assert http_status(f"{EXPORTER_URL}/metrics") == 200


def test_the_serving_container_answers_with_the_champion(stack, churn_run):
    """`--profile serving` starts the online service from the project image once churn has a
    champion; its health check is /v2/health/ready, so `--wait` returns when it can answer."""
    import json
    import urllib.request

    import polars as pl

    result = stack.run("--profile", "serving", "up", "-d", "--wait", "serving", timeout=600)
    assert result.returncode == 0, f"{result.stderr[-4000:]}\n{stack.diagnostics()}"
    container = docker.from_env(timeout=60).containers.get(f"{stack.project}-serving-1")
    assert IMAGE in container.image.tags
    assert container.attrs["Config"]["User"] == "10001:10001"
    rows = pl.read_csv(stack.specs / "customers.csv").head(3).to_dicts()
    request = urllib.request.Request(
        f"{SERVING_URL}/predict",
        data=json.dumps({"rows": rows}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    with urllib.request.urlopen(
        f"{MLFLOW_URL}/api/2.0/mlflow/registered-models/alias?name=churn_model&alias=champion",
        timeout=30,
    ) as response:
        champion = json.load(response)["model_version"]["version"]
    assert answer["model_name"] == "churn_model" and answer["model_version"] == champion
    assert len(answer["predictions"]) == 3
    assert all(0 <= p["probability"] <= 1 for p in answer["predictions"])
    assert http_status(f"{SERVING_URL}/v2/models/churn_model") == 200
    assert http_status(f"{SERVING_URL}/metrics") == 200


def test_a_backfill_runs_its_partitions_in_parallel_containers(stack):
    client = operator(stack)
    partitioned = {"raw", "validated", "rejected_rows", "features"}
    paths = [p for p in client.group_asset_paths(BACKFILL_SPEC) if p[1] in partitioned]
    assert len(paths) == len(partitioned), paths
    launched = client.launch_backfill(paths, ["2013-01-01", "2013-01-02", "2013-01-03"])
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = client.runs_tagged("dagster/backfill", backfill_id)
        done = client.backfill_status(backfill_id) != "REQUESTED"
        if done and len(runs) == 3 and all(run["status"] in FINISHED for run in runs):
            break
        time.sleep(5)
    assert client.backfill_status(backfill_id) == "COMPLETED_SUCCESS", stack.diagnostics()
    assert sorted(run["status"] for run in runs) == ["SUCCESS"] * 3
    # One partition per run (time.max_partitions_per_run: 1), each in its own container.
    ranges = {tags_of(run)["dagster/asset_partition_range_start"] for run in runs}
    assert ranges == {"2013-01-01", "2013-01-02", "2013-01-03"}
    containers = {tags_of(run)["docker/container_id"] for run in runs}
    assert len(containers) == 3
    # At least two of them ran at the same time.
    spans = sorted((run["startTime"], run["endTime"]) for run in runs)
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1]]
    assert overlapping, spans


def _source_digest_script() -> str:
    """Python that prints a digest of every installed platform source file, relative path first."""
    return (
        "import hashlib, importlib, pathlib\n"
        "d = hashlib.sha256()\n"
        "for name in ('mlops_assets', 'resources', 'sensors'):\n"
        "    root = pathlib.Path(importlib.import_module(name).__file__).parent\n"
        "    for f in sorted(root.rglob('*')):\n"
        "        if f.is_file() and f.suffix in ('.py', '.yaml'):\n"
        "            d.update(f'{name}/{f.relative_to(root)}'.encode()); d.update(f.read_bytes())\n"
        "print(d.hexdigest())\n"
    )


def test_the_image_runs_the_source_of_this_checkout(stack):
    """The image installs this checkout's code, not a wheel cached from an earlier build."""
    expected = subprocess.run(
        [sys.executable, "-c", _source_digest_script()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    in_image = (
        docker.from_env()
        .containers.run(
            IMAGE,
            ["python", "-c", _source_digest_script()],
            remove=True,
            network_mode="host",
            working_dir="/",
        )
        .decode()
        .strip()
    )
    assert in_image == expected
