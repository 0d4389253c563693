"""Shared fixtures: an isolated platform (Dagster home, MLflow store, Delta tables) per test."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FLIGHTS_SPEC = ROOT / "mlops_assets" / "specs" / "builtin" / "flights.yaml"

# Nothing a test imports may touch the developer's own Dagster home.
os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="mlops-test-home-")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


# Every asset a spec's pipeline runs materialize (policy_backtest is on demand, and the online
# service's assets, ONLINE_ASSET_NAMES, need traffic first).
PIPELINE_ASSET_NAMES = frozenset(
    {
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
    }
)
ONLINE_ASSET_NAMES = frozenset({"inference_log", "online_drift"})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server under test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_service(available: bool, what: str) -> None:
    """Skip a test whose system service is missing, or fail it under `make test`.

    `.ci/with-services` (run by `make test` and CI) installs and starts every service and
    sets MLOPS_TEST_REQUIRE_SERVICES=1, so there a missing service is an error, not a skip.
    """
    if available:
        return
    message = f"{what} is not available; `make test` installs and starts it"
    if os.environ.get("MLOPS_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Platform:
    """A fresh Dagster home and spec folder; specs written here are the only ones loaded."""

    home: Path
    specs: Path
    data: Path

    def write_spec(self, spec: dict[str, Any]) -> Path:
        path = self.specs / f"{spec['name']}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    def run(self, name: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        from mlops_assets.cli import run_spec

        return run_spec(name, start, end)

    def instance(self):
        import dagster as dg

        return dg.DagsterInstance.get()


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Platform:
    home = tmp_path / "dagster_home"
    specs = tmp_path / "specs"
    data = tmp_path / "data"
    for folder in (home, specs, data):
        folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("MLOPS_BUILTIN_SPECS", "0")
    monkeypatch.setenv("MLOPS_SPECS_PATH", str(specs))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLOPS_DATA_ROOT", raising=False)
    return Platform(home, specs, data)


def flights_slice_spec(end: str = "2013-01-22") -> dict[str, Any]:
    """The built-in flights spec cut to a few weeks, split by fractions of that window."""
    spec = yaml.safe_load(FLIGHTS_SPEC.read_text())
    spec["name"] = "flights_slice"
    spec["time"]["end"] = end
    spec["split"] = {"valid_fraction": 0.15, "test_fraction": 0.2}
    spec["quality"]["min_test_metric"] = None
    spec["training"]["num_boost_round"] = 300
    spec["training"]["early_stopping_rounds"] = 30
    return spec


def customers_table(rows: int = 1500, seed: int = 7) -> pl.DataFrame:
    """A synthetic table with signal: churn depends on tenure, plan and a noisy spend."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    spend = np.round(rng.gamma(2.0, 30.0, rows), 2)
    logit = -1.0 + 0.04 * (36 - tenure) + np.where(plan == "basic", 0.8, -0.4) + 0.005 * spend
    churn = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pl.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "tenure_months": tenure,
            "plan": plan,
            "monthly_spend": spend,
            "email": [f"person{i}@example.com" for i in range(rows)],
            "churned": np.where(churn == 1, "yes", "no"),
        }
    )


def churn_spec(path: Path, rows: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A small customer-churn spec over `path` (written with `rows` synthetic rows when given)."""
    if rows is not None:
        customers_table(rows).write_csv(path)
    return {
        "name": "churn",
        "source": {"uri": str(path)},
        "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
        "id_columns": ["customer_id"],
        "pii": {"columns": ["email"]},
        "training": {"num_boost_round": 50, "early_stopping_rounds": 10},
        **overrides,
    }
