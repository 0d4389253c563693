"""Every MLflow reference in asset metadata and the model card opens in a real MLflow UI.

A small spec is materialized end to end against the embedded store; then the MLflow
server `make run` starts (same command line, from `mlops_assets.devloop.services`)
serves that store, and each link is checked against it: the UI page answers 200, the
run, model version and artifact the link names exist through the server's REST API.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request

import dagster as dg
import pytest

from mlops_assets.devloop.services import (
    DevSettings,
    child_environment,
    dev_children,
    prepare_mlflow_store,
)
from mlops_assets.devloop.supervisor import Supervisor
from tests.conftest import churn_spec, free_port

pytestmark = pytest.mark.slow
LINK_ASSETS = ("model", "evaluation", "promotion", "model_card")


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _api(base: str, endpoint: str, **params: str) -> dict:
    status, body = _get(f"{base}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(params)}")
    assert status == 200
    return json.loads(body)


def _check_link(base: str, url: str) -> None:
    """The UI's page answers, and what the route names exists in the store it serves."""
    assert url.startswith(f"{base}/#/"), url
    status, page = _get(url.split("#", 1)[0])
    assert status == 200 and b"<html" in page.lower()
    route = url.split("#", 1)[1]
    if match := re.fullmatch(r"/models/([^/]+)/versions/([^/]+)", route):
        name, version = (urllib.parse.unquote(p) for p in match.groups())
        found = _api(base, "model-versions/get", name=name, version=version)
        assert found["model_version"]["version"] == version
    elif match := re.fullmatch(r"/models/([^/]+)", route):
        _api(base, "registered-models/get", name=urllib.parse.unquote(match.group(1)))
    elif match := re.fullmatch(r"/experiments/([^/]+)/runs/([^/]+)(?:/artifacts/(.+))?", route):
        experiment_id, run_id, path = match.groups()
        run = _api(base, "runs/get", run_id=run_id)["run"]
        assert run["info"]["experiment_id"] == experiment_id
        if path:
            path = urllib.parse.unquote(path)
            folder = path.rsplit("/", 1)[0] if "/" in path else ""
            listed = _api(base, "artifacts/list", run_id=run_id, path=folder)
            assert path in {f["path"] for f in listed.get("files", [])}, listed
            status, _ = _get(
                f"{base}/get-artifact?{urllib.parse.urlencode({'path': path, 'run_uuid': run_id})}"
            )
            assert status == 200
    else:
        raise AssertionError(f"unknown MLflow UI route {route}")


def test_metadata_and_model_card_links_open_in_the_mlflow_ui(platform, monkeypatch):
    mlflow_port = free_port()
    base = f"http://127.0.0.1:{mlflow_port}"
    monkeypatch.delenv("MLFLOW_UI_URL", raising=False)
    monkeypatch.setenv("MLOPS_MLFLOW_UI_URL", base)
    raw = churn_spec(platform.data / "customers.csv", rows=600)
    raw["training"] = {"num_boost_round": 30, "early_stopping_rounds": 5}
    platform.write_spec(raw)
    summary = platform.run("churn")
    assert summary["success"], summary

    instance = platform.instance()
    urls: list[str] = []
    for name in LINK_ASSETS:
        event = instance.get_latest_materialization_event(dg.AssetKey(["churn", name]))
        metadata = event.asset_materialization.metadata
        mlflow_entries = {k: v for k, v in metadata.items() if k.startswith("mlflow_")}
        links = {k: v for k, v in mlflow_entries.items() if k != "mlflow_run_id"}
        assert links, f"{name} has no MLflow link"
        for key, value in links.items():
            assert isinstance(value, dg.UrlMetadataValue), (name, key, value)
            assert value.value.startswith(base), (name, key, value.value)
            urls.append(value.value)
    card_metadata = instance.get_latest_materialization_event(
        dg.AssetKey(["churn", "model_card"])
    ).asset_materialization.metadata
    card = card_metadata["model_card"].value
    assert "file://" not in card
    card_links = re.findall(r"\]\((http[^)]+)\)", card)
    assert {card_metadata[k].value for k in ("mlflow_run", "mlflow_model_version")} <= set(
        card_links
    )
    urls += card_links

    settings = DevSettings(mlflow_port=mlflow_port, specs_dir=None)
    env = child_environment(settings)
    prepare_mlflow_store(env)
    [server] = [c for c in dev_children(settings, env) if c.name == "mlflow server"]
    supervisor = Supervisor([server], grace_seconds=3.0, log=lambda _m: None)
    supervisor.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        version = _api(base, "model-versions/get", name="churn_model", version="1")
        description = version["model_version"]["description"]
        assert "file://" not in description
        urls += re.findall(r"\]\((http[^)]+)\)", description)
        assert any(u.endswith("/artifacts/model_card.md") for u in urls), urls
        for url in sorted(set(urls)):
            _check_link(base, url)
    finally:
        supervisor.stop()
    assert os.environ["MLOPS_MLFLOW_UI_URL"] == base
