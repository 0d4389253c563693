"""Every MLflow reference in asset metadata and the model card opens in a real MLflow UI.

A small spec is materialized end to end against the embedded store; then the MLflow
server `make run` starts (same command line, from `mlops_assets.devloop.services`)
serves that store, and each link is checked against it: the UI page answers 200, the
run, model version and artifact the link names exist through the server's REST API.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.devloop.services import (
    DevSettings,
    child_environment,
    dev_children,
    prepare_mlflow_store,
)
from mlops_assets.devloop.supervisor import Supervisor
from tests.conftest import ROOT, Platform, churn_spec, free_port, require_service

pytestmark = pytest.mark.slow
LINK_ASSETS = ("model", "evaluation", "promotion", "model_card")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "tests" / "output" / "ui"


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


@dataclass
class LinkedStore:
    """A materialized spec, the MLflow UI serving its store, and the links to check."""

    base: str
    instance: dg.DagsterInstance
    metadata: dict[str, dict]

    def links(self, asset: str) -> dict[str, str]:
        return {
            key: value.value
            for key, value in self.metadata[asset].items()
            if key.startswith("mlflow_") and key != "mlflow_run_id"
        }


def _wait_for_health(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"MLflow server at {base} did not answer /health")


@pytest.fixture(scope="module")
def linked_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinkedStore]:
    """One small spec materialized, then the MLflow server `make run` starts, over its store."""
    root = tmp_path_factory.mktemp("links")
    platform = Platform(root / "home", root / "specs", root / "data")
    for folder in (platform.home, platform.specs, platform.data):
        folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", platform.home / "dagster.yaml")
    mlflow_port = free_port()
    base = f"http://127.0.0.1:{mlflow_port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(platform.home))
        env.setenv("MLOPS_BUILTIN_SPECS", "0")
        env.setenv("MLOPS_SPECS_PATH", str(platform.specs))
        env.setenv("MLOPS_MLFLOW_UI_URL", base)
        for name in ("MLFLOW_UI_URL", "MLFLOW_TRACKING_URI", "MLOPS_DATA_ROOT"):
            env.delenv(name, raising=False)
        raw = churn_spec(platform.data / "customers.csv", rows=600)
        raw["training"] = {"num_boost_round": 30, "early_stopping_rounds": 5}
        platform.write_spec(raw)
        summary = platform.run("churn")
        assert summary["success"], summary
        instance = platform.instance()
        metadata = {
            name: instance.get_latest_materialization_event(
                dg.AssetKey(["churn", name])
            ).asset_materialization.metadata
            for name in LINK_ASSETS
        }
        settings = DevSettings(mlflow_port=mlflow_port, specs_dir=None)
        child_env = child_environment(settings)
        prepare_mlflow_store(child_env)
        [server] = [c for c in dev_children(settings, child_env) if c.name == "mlflow server"]
        supervisor = Supervisor([server], grace_seconds=3.0, log=lambda _m: None)
        supervisor.start()
        try:
            _wait_for_health(base)
            yield LinkedStore(base, instance, metadata)
        finally:
            supervisor.stop()


def test_metadata_and_model_card_links_open_in_the_mlflow_ui(linked_store: LinkedStore):
    base = linked_store.base
    urls: list[str] = []
    for name in LINK_ASSETS:
        metadata = linked_store.metadata[name]
        links = {
            k: v for k, v in metadata.items() if k.startswith("mlflow_") and k != "mlflow_run_id"
        }
        assert links, f"{name} has no MLflow link"
        for key, value in links.items():
            assert isinstance(value, dg.UrlMetadataValue), (name, key, value)
            assert value.value.startswith(base), (name, key, value.value)
            urls.append(value.value)
    card_metadata = linked_store.metadata["model_card"]
    card = card_metadata["model_card"].value
    assert "file://" not in card
    card_links = re.findall(r"\]\((http[^)]+)\)", card)
    assert {card_metadata[k].value for k in ("mlflow_run", "mlflow_model_version")} <= set(
        card_links
    )
    urls += card_links

    version = _api(base, "model-versions/get", name="churn_model", version="1")
    description = version["model_version"]["description"]
    assert "file://" not in description
    urls += re.findall(r"\]\((http[^)]+)\)", description)
    assert any(u.endswith("/artifacts/model_card.md") for u in urls), urls
    for url in sorted(set(urls)):
        _check_link(base, url)


def test_the_links_show_the_run_the_version_and_the_card_in_a_browser(linked_store: LinkedStore):
    """What a reader sees after a click: Chromium renders each MLflow UI page the link opens."""
    require_service(CHROMIUM.exists(), "Chromium")
    from playwright.sync_api import expect, sync_playwright

    model = linked_store.links("model")
    card = linked_store.links("model_card")
    pages = [
        ("mlflow_run", model["mlflow_run"], "churn-train"),
        ("mlflow_model_version", model["mlflow_model_version"], "Version 1"),
        ("mlflow_model_card", card["mlflow_model_card"], "Model card: churn_model v1"),
    ]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.set_default_timeout(60_000)
            for name, url, text in pages:
                page.goto(url)
                try:
                    expect(page.get_by_text(text).first).to_be_visible()
                finally:
                    page.screenshot(path=str(SCREENSHOTS / f"mlflow_{name}.png"), full_page=True)
        finally:
            browser.close()
