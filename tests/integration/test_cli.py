"""`mlops run` as a user calls it: a subprocess, JSON on the last stdout line, progress on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import churn_spec

pytestmark = pytest.mark.slow
MLOPS = str(Path(sys.executable).parent / "mlops")


def _mlops(platform, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(platform.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(platform.specs),
    }
    return subprocess.run([MLOPS, *args], capture_output=True, text=True, env=env, timeout=600)


def test_run_prints_a_json_summary_and_progress(platform):
    path = platform.data / "customers.csv"
    platform.write_spec(churn_spec(path, rows=600))
    done = _mlops(platform, "run", "--spec", "churn", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        summary["spec"] == "churn"
        and summary["rows_ingested"] == 600
        and summary["rows_rejected"] == 0
    )
    assert summary["model_name"] == "churn_model" and summary["model_version"] == 1
    assert {"roc_auc", "pr_auc", "log_loss", "brier", "f1"} <= set(summary["metrics"])
    assert summary["checks_passed"] >= 7 and summary["checks_failed"] == 0
    assert (
        "churn: materializing" in done.stderr and "registered churn_model version 1" in done.stderr
    )


def test_failures_exit_non_zero_with_one_line_reason(platform):
    done = _mlops(platform, "run", "--spec", "nope")
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1]
        == "mlops run: error: no spec named `nope`; known specs: none"
    )
