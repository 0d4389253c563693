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
    promotion = dg.AssetKey(["churn", "promotion"])
    try:
        _wait_for_drift_runs(instance, 1)
        finished_at = time.monotonic()
        while time.monotonic() - finished_at < 75:  # at least one more sensor tick
            time.sleep(5)
        runs = _drift_runs(instance)
        assert len(runs) == 1, (platform.home / "daemon.log").read_text()[-3000:]
        [run] = runs
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert "tenure_months" in run.tags["mlops/drift_features"]
        decision = instance.get_latest_materialization_event(promotion)
        assert decision.run_id == run.run_id
        assert decision.asset_materialization.metadata["trigger"].value == "drift"
        assert decision.asset_materialization.metadata["decision"].value == "promoted"
        assert _champion() == "2"

        # A second shift, with a floor no model can reach: the retrain runs, the gate fails.
        spec["quality"] = {"min_test_metric": 0.999}
        platform.write_spec(spec)
        shifted_customers(seed=23, tenure_shift=100).write_csv(path)
        assert rescore(platform).success
        _wait_for_drift_runs(instance, 2)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()
    second = _drift_runs(instance)[0]
    assert second.status == dg.DagsterRunStatus.FAILURE
    rejected = instance.get_latest_materialization_event(promotion).asset_materialization.metadata
    assert rejected["decision"].value == "rejected" and rejected["challenger_version"].value == 3
    assert _champion() == "2"


def _champion() -> str:
    return str(mlflow.MlflowClient().get_model_version_by_alias("churn_model", "champion").version)


def _wait_for_drift_runs(instance: dg.DagsterInstance, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _drift_runs(instance)
        if len(runs) >= count and all(r.is_finished for r in runs):
            return
        time.sleep(2)
