"""`make run`'s promise, end to end: webserver and daemon start, and a spec materializes itself with no clicks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import ONLINE_ASSET_NAMES, PIPELINE_ASSET_NAMES, ROOT, churn_spec, free_port

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).parent / "dagster")


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def dagster_dev(platform):
    path = platform.data / "customers.csv"
    platform.write_spec(churn_spec(path, rows=800))
    port = free_port()
    log = (platform.home / "dagster_dev.log").open("w")
    process = subprocess.Popen(
        [DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(platform.home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield platform, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_the_bootstrap_sensor_materializes_the_whole_graph_without_clicks(dagster_dev):
    platform, port = dagster_dev
    instance = dg.DagsterInstance.get()
    deadline = time.monotonic() + 420
    evaluation = dg.AssetKey(["churn", "drift"])
    while (
        time.monotonic() < deadline
        and instance.get_latest_materialization_event(evaluation) is None
    ):
        time.sleep(3)
    log = (platform.home / "dagster_dev.log").read_text()
    assert instance.get_latest_materialization_event(evaluation) is not None, log[-3000:]
    while time.monotonic() < deadline and not instance.get_runs()[0].is_finished:
        time.sleep(1)
    runs = instance.get_runs()
    assert len(runs) == 1 and runs[0].tags["mlops/trigger"] == "bootstrap"
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
    nodes = _graphql(port, "{ assetNodes { assetKey { path } } }")["data"]["assetNodes"]
    assert {"/".join(n["assetKey"]["path"]) for n in nodes} == {
        f"churn/{name}" for name in PIPELINE_ASSET_NAMES | ONLINE_ASSET_NAMES
    }
