"""Exactly one promotion at a time per spec, whatever launched the runs, and no run holds it for ever.

Two trainings of one spec are started at once from two paths (an `mlops run`
process, and an in-process launch with no platform tags, as "Materialize all"
in the UI sends it). The spec's training pool lets one model or gate step run
at a time, so the gates decide one after the other against the true champion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import mlflow
import pytest
from dagster._core.events import DagsterEventType

from tests.conftest import ROOT, churn_spec

pytestmark = pytest.mark.slow
MLOPS = str(Path(sys.executable).parent / "mlops")
TRAINING = ["training_set", "model", "evaluation", "promotion", "model_card"]


@pytest.fixture
def churn(platform):
    spec = churn_spec(platform.data / "customers.csv", rows=20_000)
    spec["training"] = {"num_boost_round": 200, "early_stopping_rounds": 200}
    spec["promotion"] = {"max_metric_drop": 1.0}  # every challenger passes: the chain is the test
    platform.write_spec(spec)
    first = platform.run("churn")
    assert first["success"] and first["champion_version"] == 1, first
    return platform


def _train_in_process(platform) -> dg.ExecuteInProcessResult:
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec

    return dg.materialize(
        build_spec_assets(find_spec("churn")),
        selection=[dg.AssetKey(["churn", name]) for name in TRAINING],
        instance=platform.instance(),
        resources=build_resources(),
    )


def _step_spans(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    spans: dict[str, list[float]] = {}
    for kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
        for record in instance.get_records_for_run(run_id, of_type=kind).records:
            entry = record.event_log_entry
            spans.setdefault(entry.step_key, []).append(entry.timestamp)
    return {step: (min(times), max(times)) for step, times in spans.items()}


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_two_trainings_launched_at_once_give_one_champion_and_a_true_chain(churn):
    platform = churn
    instance = platform.instance()
    cli = subprocess.Popen(
        [MLOPS, "run", "--spec", "churn", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("ui", _train_in_process(platform)))
    thread.start()
    output, _ = cli.communicate(timeout=600)
    thread.join(timeout=600)
    assert cli.returncode == 0, output[-3000:]
    assert outcome["ui"].success

    promotion = dg.AssetKey(["churn", "promotion"])
    decisions = [
        {k: getattr(v, "value", v) for k, v in r.asset_materialization.metadata.items()}
        | {"run_id": r.run_id}
        for r in instance.fetch_materializations(promotion, limit=10, ascending=True).records
    ][1:]
    assert len(decisions) == 2
    assert [d["decision"] for d in decisions] == ["promoted", "promoted"]
    first, second = decisions
    assert first["champion_before"] == "1"
    assert second["champion_before"] == str(first["challenger_version"])
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("churn_model", "champion").version
    previous = client.get_model_version_by_alias("churn_model", "previous_champion").version
    assert (str(previous), str(champion)) == (
        str(first["challenger_version"]),
        str(second["challenger_version"]),
    )
    assert {first["trigger"], second["trigger"]} == {"cli", "manual"}

    training_runs = {d["run_id"] for d in decisions}
    spans = [_step_spans(instance, run_id) for run_id in training_runs]
    for step in ("churn__model", "churn__promotion_gate"):
        assert not _overlap(spans[0][step], spans[1][step]), f"{step} ran in both runs at once"

    from mlops_assets.cli import audit

    trail = audit("churn")
    assert trail.explained and not trail.ungated
    chain = [(e.action, e.champion_before, e.champion_after) for e in trail.events]
    assert chain == [
        ("promoted", None, "1"),
        ("promoted", "1", str(first["challenger_version"])),
        ("promoted", str(first["challenger_version"]), str(second["challenger_version"])),
    ]


def test_a_killed_training_does_not_hold_the_spec_for_ever(churn):
    """Killed in its model step, a run holds the training pool's slot; the next `mlops run`
    finds its process gone, fails it, frees the slot and trains."""
    platform = churn
    instance = platform.instance()
    cli = subprocess.Popen(
        [MLOPS, "run", "--spec", "churn"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    zombie = None
    while zombie is None and time.monotonic() < deadline:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            if "churn__model" in _step_spans(instance, run.run_id):
                zombie = run.run_id
        time.sleep(0.05)
    assert zombie, "the CLI run never reached its model step"
    os.killpg(cli.pid, signal.SIGKILL)
    cli.wait(timeout=30)
    assert instance.event_log_storage.get_concurrency_info("mlops_training_churn").claimed_slots

    started = time.monotonic()
    summary = platform.run("churn")
    assert summary["success"], summary
    assert time.monotonic() - started < 300
    assert instance.get_run_by_id(zombie).status == dg.DagsterRunStatus.FAILURE
