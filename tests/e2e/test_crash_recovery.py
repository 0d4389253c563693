"""Automation survives crashes, with a real daemon and real kill -9s.

- A run whose worker is killed in any stage is failed with the reason, its spec's
  next queued run is admitted, and its automatic retry succeeds; a version left
  between registration and the gate is listed as ungated until the retry gates it.
- Runs left STARTED by a platform that died whole (`dagster dev` killed with its
  code server) or by a killed `mlops run` are failed by run monitoring after the
  restart, within two minutes, so the spec is not blocked for ever.

Runs are launched through the webserver's GraphQL API, as the UI launches them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import dagster as dg
import mlflow
import pytest
from dagster._core.events import DagsterEventType

from mlops_assets.instance.run_workers import run_worker
from tests.conftest import ROOT, churn_spec, free_port
from tests.deployment.graphql_api import DagsterGraphQL

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ASSETS = [
    ["churn", name]
    for name in (
        "raw",
        "validated",
        "rejected_rows",
        "features",
        "training_set",
        "model",
        "evaluation",
        "promotion",
        "model_card",
        "predictions",
        "drift",
    )
]
FAILED_WITHIN_SECONDS = 120
STAGES = [
    "churn__validate",
    "churn__model",
    "churn__evaluation",
    "churn__promotion_gate",
    "churn__drift",
]


class DagsterDev:
    """`dagster dev` on a free port (bootstrap and automation off), restartable."""

    def __init__(self, platform) -> None:
        self.platform = platform
        self.log = platform.home / "dagster_dev.log"
        self.process: subprocess.Popen | None = None
        self.client: DagsterGraphQL | None = None

    def start(self) -> DagsterGraphQL:
        port = free_port()
        self.process = subprocess.Popen(
            [
                str(BIN / "dagster"),
                "dev",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "workspace.yaml",
            ],
            cwd=ROOT,
            env={**os.environ, "MLOPS_BOOTSTRAP": "0", "MLOPS_AUTOMATION": "0"},
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = DagsterGraphQL(f"http://127.0.0.1:{port}")
        _wait(self._serving, 180, "the webserver", self.log)
        return self.client

    def _serving(self) -> bool:
        try:
            return bool(self.client.group_asset_paths("churn"))
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9 of everything `dagster dev` started: webserver, daemon, code servers, runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def dev(platform):
    path = platform.data / "customers.csv"
    spec = churn_spec(path, rows=60_000)
    spec["training"] = {"num_boost_round": 300, "early_stopping_rounds": 300}
    spec["promotion"] = {"max_metric_drop": 1.0}
    platform.write_spec(spec)
    assert platform.run("churn")["success"]  # a champion to gate against
    server = DagsterDev(platform)
    try:
        yield server
    finally:
        server.stop()


def _wait(condition, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


def _launch(client: DagsterGraphQL) -> str:
    result = client.launch_assets(ASSETS, {"mlops/spec": "churn"})
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _step_started(instance: dg.DagsterInstance, run_id: str, step: str) -> bool:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return any(r.event_log_entry.step_key == step for r in records)


def _steps_done(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
    return {r.event_log_entry.step_key for r in records}


def _finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run is not None and run.is_finished else None


def _retry_of(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    for run in instance.get_runs():
        if run.tags.get("dagster/parent_run_id") == run_id:
            return run
    return None


def _run_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        r.event_log_entry.dagster_event.message or ""
        for r in instance.get_records_for_run(run_id).records
        if r.event_log_entry.dagster_event is not None
    ]


def _death_explained(
    instance: dg.DagsterInstance, run_id: str, by_monitoring: bool = False
) -> bool:
    """The run's events say its process died: its code server saw the child exit, or (when the
    code server died too) run monitoring found the worker gone."""
    said = " ".join(_run_messages(instance, run_id))
    if by_monitoring:
        return "is gone: it was killed or crashed" in said
    return any(
        words in said
        for words in ("terminated by signal", "unexpectedly exited", "is gone: it was killed")
    )


def _newest_version(registry: mlflow.MlflowClient) -> str:
    versions = registry.search_model_versions("name = 'churn_model'")
    return str(max(int(v.version) for v in versions))


def _audit():
    from mlops_assets.cli import audit

    return audit("churn")


def test_a_run_killed_in_any_stage_is_failed_and_the_spec_moves_on(dev):
    client = dev.start()
    instance, log = dev.platform.instance(), dev.log
    registry = mlflow.MlflowClient()
    queued_behind = None
    for stage in STAGES:
        run_id = _launch(client)
        if queued_behind is None:
            queued_behind = _launch(client)  # waits in the queue: one run per spec
        _wait(partial(_step_started, instance, run_id, stage), 300, f"{stage} to start", log)
        pid, _ = run_worker(instance, run_id)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        assert stage not in _steps_done(instance, run_id), f"{stage} finished before the kill"
        failed = _wait(partial(_finished, instance, run_id), FAILED_WITHIN_SECONDS, stage, log)
        assert time.monotonic() - killed_at < FAILED_WITHIN_SECONDS
        assert failed.status == dg.DagsterRunStatus.FAILURE
        assert _death_explained(instance, run_id), _run_messages(instance, run_id)[-5:]
        if stage == "churn__evaluation":
            orphan = _newest_version(registry)  # registered, never gated
            assert orphan in [entry["version"] for entry in _audit().ungated]
        retry = _wait(partial(_retry_of, instance, run_id), 120, f"the retry of {run_id}", log)
        if queued_behind is not None and stage == STAGES[0]:
            behind = _wait(partial(_finished, instance, queued_behind), 600, "the queued run", log)
            assert behind.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
        done = _wait(partial(_finished, instance, retry.run_id), 600, "the retry", log)
        assert done.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
        assert done.tags["dagster/retry_number"] == "1"
        if stage == "churn__evaluation":
            # The retry re-executes from the failure, reusing the registered model: it gates it.
            assert registry.get_model_version("churn_model", orphan).tags["mlops.gate"] in {
                "promoted",
                "rejected",
            }
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    trail = _audit()
    assert not trail.ungated
    retried = [event for event in trail.events if event.trigger == "retry"]
    assert retried and all(event.launched_by.startswith("retry of run ") for event in retried)


def _cli_run(platform) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "mlops"), "run", "--spec", "churn"],
        cwd=ROOT,
        stdout=(platform.home / "cli.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _started_run(instance: dg.DagsterInstance, trigger: str, step: str) -> str | None:
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        if run.tags.get("mlops/trigger") == trigger and _step_started(instance, run.run_id, step):
            return run.run_id
    return None


def test_runs_left_behind_by_a_dead_cli_or_a_dead_platform_are_failed_after_a_restart(dev):
    platform, log = dev.platform, dev.log
    instance = platform.instance()

    cli = _cli_run(platform)
    cli_run = _wait(
        partial(_started_run, instance, "cli", "churn__model"), 300, "the CLI's model step", log
    )
    os.killpg(cli.pid, signal.SIGKILL)
    cli.wait(timeout=30)
    time.sleep(3)
    assert instance.get_run_by_id(cli_run).status == dg.DagsterRunStatus.STARTED  # a zombie

    client = dev.start()
    failed = _wait(partial(_finished, instance, cli_run), FAILED_WITHIN_SECONDS, "the CLI run", log)
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert _death_explained(instance, cli_run, by_monitoring=True)

    ui_run = _launch(client)
    _wait(partial(_step_started, instance, ui_run, "churn__model"), 300, "the UI run's model", log)
    dev.kill()
    time.sleep(3)
    assert instance.get_run_by_id(ui_run).status == dg.DagsterRunStatus.STARTED  # a zombie

    client = dev.start()
    restarted = time.monotonic()
    failed = _wait(partial(_finished, instance, ui_run), FAILED_WITHIN_SECONDS, "the UI run", log)
    assert time.monotonic() - restarted < FAILED_WITHIN_SECONDS
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert _death_explained(instance, ui_run, by_monitoring=True)
    retry = _wait(partial(_retry_of, instance, ui_run), 120, "the retry", log)
    done = _wait(partial(_finished, instance, retry.run_id), 600, "the retry", log)
    assert done.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
    after = _launch(client)
    done = _wait(partial(_finished, instance, after), 600, "the next run", log)
    assert done.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-4000:]
