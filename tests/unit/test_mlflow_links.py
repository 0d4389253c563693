"""The MLflow UI links: their base address and the page routes of the installed MLflow UI."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow

from resources.mlflow_links import DEFAULT_UI_URL, MlflowLinks, mlflow_ui_base
from resources.mlflow_tracking import MlflowTracking

SQLITE = "sqlite:////tmp/home/mlflow/mlflow.db"


def test_the_embedded_store_links_to_the_ui_make_run_starts():
    assert mlflow_ui_base(SQLITE, {}) == DEFAULT_UI_URL == "http://127.0.0.1:5000"


def test_a_tracking_server_is_its_own_ui():
    assert mlflow_ui_base("https://mlflow.example.com/", {}) == "https://mlflow.example.com"
    assert mlflow_ui_base("http://127.0.0.1:5055", {}) == "http://127.0.0.1:5055"


def test_a_configured_ui_url_wins_and_the_new_name_before_the_old():
    env = {"MLOPS_MLFLOW_UI_URL": "http://127.0.0.1:5111/", "MLFLOW_UI_URL": "http://old:1"}
    assert mlflow_ui_base("https://mlflow.example.com", env) == "http://127.0.0.1:5111"
    assert mlflow_ui_base(SQLITE, {"MLFLOW_UI_URL": "http://old:1"}) == "http://old:1"


def test_url_shapes_follow_the_mlflow_ui_routes():
    links = MlflowLinks("http://127.0.0.1:5000")
    assert links.run("3", "abc123") == "http://127.0.0.1:5000/#/experiments/3/runs/abc123"
    assert links.model_version("churn_model", 7) == (
        "http://127.0.0.1:5000/#/models/churn_model/versions/7"
    )
    assert links.artifact("3", "abc123", "promotion/decision.json") == (
        "http://127.0.0.1:5000/#/experiments/3/runs/abc123/artifacts/promotion/decision.json"
    )
    assert links.registered_model("churn_model") == "http://127.0.0.1:5000/#/models/churn_model"


def test_names_with_reserved_characters_are_escaped():
    links = MlflowLinks("http://127.0.0.1:5000")
    assert links.model_version("my model/x", "1").endswith("/#/models/my%20model%2Fx/versions/1")
    assert links.artifact("1", "r", "eval plots/a#b.png").endswith(
        "/artifacts/eval%20plots/a%23b.png"
    )


def test_the_routes_exist_in_the_installed_mlflow_ui():
    """The single-page app's route table, read from the JavaScript MLflow ships."""
    build = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    bundle = "\n".join(p.read_text(errors="ignore") for p in build.glob("*.js"))
    assert "createHashRouter" in bundle  # routes live after `#`: base/#/experiments/...
    assert '"/experiments/:experimentId/runs/:runUuid"' in bundle
    assert '"/experiments/:experimentId/runs/:runUuid/*"' in bundle  # the artifacts tab
    assert re.search(r'getRunPageTabRoute\(\w+,\w+,\["artifacts",\w+\]\.join\("/"\)\)', bundle)
    assert '"/models/:modelName/versions/:version"' in bundle


def test_the_tracking_resource_always_gives_http_links(monkeypatch):
    monkeypatch.delenv("MLOPS_MLFLOW_UI_URL", raising=False)
    monkeypatch.delenv("MLFLOW_UI_URL", raising=False)
    tracking = MlflowTracking(mlflow_tracking_uri=SQLITE)
    assert tracking.run_url("1", "r").startswith("http://127.0.0.1:5000/#/experiments/1/runs/r")
    assert tracking.model_version_url("m", "2") == "http://127.0.0.1:5000/#/models/m/versions/2"
    assert tracking.artifact_url("1", "r", "model_card.md").endswith(
        "/runs/r/artifacts/model_card.md"
    )
