"""A spec file added to the spec folder appears after Deployment > Reload, with no restart.

`dagster dev` serves the project's workspace over a temp spec folder; the test
reads the asset groups through the GraphQL API, writes a second spec file, sends
the reload mutation the UI's Reload button sends, and reads the groups again.
A broken file added the same way shows up in `broken_specs` and hides nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster_graphql import DagsterGraphQLClient, ReloadRepositoryLocationStatus

from mlops_assets.devloop.supervisor import ChildSpec, Supervisor
from tests.conftest import ROOT, churn_spec, free_port

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).parent / "dagster")
GROUPS = "{ assetNodes { groupName assetKey { path } } }"


def _groups(port: int) -> set[str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": GROUPS}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        nodes = json.loads(response.read())["data"]["assetNodes"]
    return {node["groupName"] for node in nodes}


def test_a_new_spec_file_appears_after_reload(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=200))
    port = free_port()
    env = {**os.environ, "MLOPS_BOOTSTRAP": "0", "MLOPS_AUTOMATION": "0"}
    # Under the supervisor `make run` uses, so every process it starts is stopped after.
    command = [DAGSTER, "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    dev = ChildSpec("dagster dev", command, env=env, cwd=str(ROOT), stop_signal=signal.SIGINT)
    supervisor = Supervisor([dev], grace_seconds=5.0, log=lambda _m: None)
    supervisor.start()
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    try:
        deadline = time.monotonic() + 300
        groups: set[str] = set()
        while "churn" not in groups and time.monotonic() < deadline:
            assert supervisor.returncodes() == {"dagster dev": None}
            try:
                groups = _groups(port)
            except (OSError, KeyError):
                time.sleep(1)
        assert groups == {"churn"}

        spec = churn_spec(platform.data / "accounts.csv", rows=200)
        spec["name"] = "accounts"
        platform.write_spec(spec)
        (platform.specs / "sales.yaml").write_text("name: sales\nsource: {uri: s.csv}\n")
        assert _groups(port) == {"churn"}  # nothing changes before the reload

        info = client.reload_repository_location("mlops_assets")
        assert info.status == ReloadRepositoryLocationStatus.SUCCESS, info.message
        assert _groups(port) == {"churn", "accounts", "broken_specs"}
        assert supervisor.returncodes() == {"dagster dev": None}  # the same server: no restart
    finally:
        supervisor.stop()
