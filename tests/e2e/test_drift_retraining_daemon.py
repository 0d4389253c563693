"""With a real daemon: a shifted batch leads to exactly one retraining run, whose challenger is gated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import mlflow
import pytest

from tests.conftest import ROOT, customers_table
from tests.integration.test_drift_asset import drift_spec, rescore, shifted_customers

pytestmark = pytest.mark.slow
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")


def _drift_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.tags.get("mlops/trigger") == "drift"]


def test_shifted_batch_triggers_one_retraining_and_a_gated_promotion(platform):
    path = platform.data / "customers.csv"
    customers_table(1200).write_csv(path)
    spec = drift_spec(path)
    spec["retraining"]["cooldown_hours"] = 0
    spec["promotion"] = {"max_metric_drop": 0.5}
    platform.write_spec(spec)
    assert platform.run("churn")["success"]
    shifted_customers().write_csv(path)
    assert rescore(platform).success

    log = (platform.home / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [DAEMON, "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**os.environ, "MLOPS_BOOTSTRAP": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = platform.instance()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (
            _drift_runs(instance) and all(r.is_finished for r in _drift_runs(instance))
        ):
            time.sleep(2)
        finished_at = time.monotonic()
        while time.monotonic() - finished_at < 75:  # at least one more sensor tick
            time.sleep(5)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()
    runs = _drift_runs(instance)
    assert len(runs) == 1, (platform.home / "daemon.log").read_text()[-3000:]
    [run] = runs
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert "tenure_months" in run.tags["mlops/drift_features"]
    decision = instance.get_latest_materialization_event(dg.AssetKey(["churn", "promotion"]))
    assert decision.run_id == run.run_id
    metadata = decision.asset_materialization.metadata
    assert metadata["trigger"].value == "drift"
    assert metadata["decision"].value == "promoted"
    champion = mlflow.MlflowClient().get_model_version_by_alias("churn_model", "champion")
    assert str(champion.version) == "2"
