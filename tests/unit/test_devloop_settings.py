"""What `mlops dev` starts and with which environment, for the embedded store and a remote server."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from mlops_assets.devloop.services import (
    DevSettings,
    child_environment,
    dev_children,
    prepare_home,
)
from tests.conftest import ROOT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_MLFLOW_UI_URL", "MLFLOW_UI_URL", "MLOPS_SPECS_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_embedded_store_gets_an_mlflow_server_over_its_sqlite_and_artifacts(clean_env):
    settings = DevSettings(port=3100, mlflow_port=5100, exporter_port=9100, specs_dir=clean_env)
    env = child_environment(settings)
    children = {c.name: c for c in dev_children(settings, env)}
    assert list(children) == ["dagster dev", "mlflow server", "metrics exporter"]
    assert children["dagster dev"].stop_signal == signal.SIGINT
    mlflow = list(children["mlflow server"].argv)
    home = clean_env / "home"
    assert mlflow[mlflow.index("--backend-store-uri") + 1] == f"sqlite:///{home}/mlflow/mlflow.db"
    assert (
        mlflow[mlflow.index("--default-artifact-root") + 1] == (home / "mlflow/artifacts").as_uri()
    )
    assert mlflow[mlflow.index("--host") + 1] == "127.0.0.1"
    assert mlflow[mlflow.index("--port") + 1] == "5100"
    assert "9100" in children["metrics exporter"].argv
    assert env["MLOPS_MLFLOW_UI_URL"] == "http://127.0.0.1:5100"
    assert env["MLOPS_SPECS_PATH"] == str(clean_env)


def test_a_remote_tracking_server_is_linked_not_started(clean_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")
    settings = DevSettings(specs_dir=None)
    env = child_environment(settings)
    assert [c.name for c in dev_children(settings, env)] == ["dagster dev", "metrics exporter"]
    assert settings.mlflow_url == env["MLOPS_MLFLOW_UI_URL"] == "https://mlflow.example.com"
    assert "MLOPS_SPECS_PATH" not in env


def test_the_operator_s_own_settings_win(clean_env, monkeypatch):
    monkeypatch.setenv("MLOPS_SPECS_PATH", "/team/specs")
    monkeypatch.setenv("MLFLOW_UI_URL", "http://mlflow.internal:8080")
    env = child_environment(DevSettings(specs_dir=clean_env))
    assert env["MLOPS_SPECS_PATH"] == "/team/specs"
    assert (
        "MLOPS_MLFLOW_UI_URL" not in env and env["MLFLOW_UI_URL"] == "http://mlflow.internal:8080"
    )


def test_a_new_home_gets_the_project_instance_config_and_an_own_one_is_kept(tmp_path):
    fresh = tmp_path / "fresh"
    prepare_home(fresh, ROOT / "dagster.yaml")
    assert (fresh / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    prepare_home(own, ROOT / "dagster.yaml")
    assert (own / "dagster.yaml").read_text() == "telemetry: {enabled: false}\n"
