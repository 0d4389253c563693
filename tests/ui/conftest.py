"""A real Dagster UI to test in a browser: one materialized slice, a full and a read-only webserver, Chromium.

Everything is shared by the whole UI suite: the pipeline runs once (through the `mlops` CLI,
in its own process and environment, so nothing leaks into other tests), then both
webservers start against that instance. Each test gets a fresh browser page and leaves a
screenshot in tests/output/ui/, whether it passed or not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from mlops_assets.devloop.services import mlflow_server_command
from mlops_assets.specs import DatasetSpec
from tests.conftest import ROOT, flights_slice_spec, free_port, require_service

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
BIN = Path(sys.executable).parent
LOCATION = "mlops_assets"
STARTUP_SECONDS = 300
# How long a page may take to show an element; generous because two webservers, a code
# server each and Chromium share two cores.
ELEMENT_TIMEOUT_MS = 45_000
BROKEN_SPEC = "sales_forecast"


@dataclass
class Webserver:
    """One running `dagster-webserver` process."""

    url: str
    process: subprocess.Popen
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class MaterializedSlice:
    """The flights slice after one CLI run, and the two webservers that show it."""

    home: Path
    spec: DatasetSpec
    summary: dict[str, Any]
    full: Webserver
    read_only: Webserver
    env: dict[str, str]
    mlflow_ui: Webserver

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def latest_metadata(self, asset: str) -> dict[str, Any]:
        key = dg.AssetKey([self.spec.name, asset])
        with self.instance() as instance:
            event = instance.get_latest_materialization_event(key)
        assert event is not None, f"{key.to_user_string()} was never materialized"
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _start_webserver(env: dict[str, str], folder: Path, *extra: str) -> Webserver:
    port = free_port()
    log = folder / f"webserver-{port}.log"
    process = subprocess.Popen(
        [
            *(str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)),
            *("-w", str(ROOT / "workspace.yaml"), *extra),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Webserver(f"http://127.0.0.1:{port}", process, log)


def _location_loaded(server: Webserver) -> bool:
    """True once the code location is loaded; fails at once if it loaded with an error."""
    query = """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    try:
        entries = server.graphql(query)["data"]["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
        return False
    for entry in entries:
        loaded = entry["locationOrLoadError"]
        if loaded and loaded["__typename"] == "PythonError":
            pytest.fail(f"code location {entry['name']} failed to load: {loaded['message']}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def _wait_until_serving(servers: list[Webserver]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    waiting = list(servers)
    while waiting and time.monotonic() < deadline:
        for server in list(waiting):
            if server.process.poll() is not None:
                pytest.fail(f"dagster-webserver at {server.url} exited:\n{server.log_tail()}")
            if _location_loaded(server):
                waiting.remove(server)
        time.sleep(0.5)
    if waiting:
        pytest.fail(
            f"{waiting[0].url} not serving after {STARTUP_SECONDS}s:\n{waiting[0].log_tail()}"
        )


def _wait_for_mlflow(server: Webserver) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"mlflow server exited:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"mlflow server not serving after {STARTUP_SECONDS}s:\n{server.log_tail()}")


def _stop(server: Webserver) -> None:
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@pytest.fixture(scope="session")
def materialized_slice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaterializedSlice]:
    require_service(CHROMIUM.exists(), "Chromium")
    root = tmp_path_factory.mktemp("ui")
    home, specs = root / "dagster_home", root / "specs"
    home.mkdir()
    specs.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    spec = flights_slice_spec()
    (specs / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    # A team's broken spec beside it: the UI must show it, and load the good spec all the same.
    (specs / f"{BROKEN_SPEC}.yaml").write_text(
        "name: sales\nsource: {uri: s.csv}\ntarget: {column: y, task: classification}\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MLFLOW_TRACKING_URI", "MLOPS_DATA_ROOT"}
    }
    # Chosen here, not at import: pytest may import this module twice (as its conftest and
    # as tests.ui.conftest), and each import would pick its own port.
    mlflow_port = free_port()
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    env |= {
        "DAGSTER_HOME": str(home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(specs),
        "MLFLOW_UI_URL": mlflow_url,
    }
    run = subprocess.run(
        [str(BIN / "mlops"), "run", "--spec", spec["name"], "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["success"], summary
    full = _start_webserver(env, root)
    read_only = _start_webserver(env, root, "--read-only")
    # The MLflow server `make run` starts: the links lead to it and the figures load from it.
    mlflow_ui = Webserver(
        mlflow_url,
        subprocess.Popen(
            mlflow_server_command(mlflow_port, env),
            cwd=ROOT,
            env=env,
            stdout=(root / "mlflow.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        root / "mlflow.log",
    )
    try:
        _wait_until_serving([full, read_only])
        _wait_for_mlflow(mlflow_ui)
        yield MaterializedSlice(
            home, DatasetSpec.model_validate(spec), summary, full, read_only, env, mlflow_ui
        )
    finally:
        _stop(full)
        _stop(read_only)
        _stop(mlflow_ui)


def save_screenshot(page, name: str) -> Path:
    """The whole page as tests/output/ui/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def browser(materialized_slice: MaterializedSlice):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A fresh page; its last state is saved as tests/output/ui/<test name>.png."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    # The UI greets new local users with a newsletter dialog that covers the page.
    context.add_init_script("window.localStorage.setItem('communityNux', '1')")
    context.set_default_timeout(ELEMENT_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    save_screenshot(tab, request.node.name)
    context.close()
