"""One broken spec file never takes the others down: the code location, `mlops specs` and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.conftest import churn_spec

MLOPS = str(Path(sys.executable).parent / "mlops")


def _write_broken(platform) -> Path:
    broken = platform.specs / "sales-forecast.yaml"
    broken.write_text(
        "name: sales\nsource: {uri: s.csv}\n"
        "target: {column: y, task: binary, expression: \"y IN (SELECT 1 FROM read_csv('/etc/passwd'))\"}\n"
    )
    return broken


def test_the_code_location_loads_the_good_specs_and_shows_the_broken_file(platform, caplog):
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=50))
    broken = _write_broken(platform)
    from mlops_assets.definitions import BROKEN_SPECS_GROUP, build_definitions

    with caplog.at_level("ERROR"):
        defs = build_definitions()
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert "churn/model" in specs and "churn/raw" in specs
    shown = specs["broken_specs/sales_forecast"]
    assert shown.group_name == BROKEN_SPECS_GROUP
    assert shown.description.startswith(f"BROKEN SPEC FILE {broken}")
    assert "subqueries are not allowed" in shown.description
    assert shown.metadata["reason"].value.startswith(str(broken))
    assert any("BROKEN SPEC FILE" in r.message and str(broken) in r.message for r in caplog.records)
    # The UI lists it like any asset: it is in the repository the webserver loads.
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(["broken_specs", "sales_forecast"]) in graph.get_all_asset_keys()


def _mlops(platform, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(platform.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(platform.specs),
    }
    return subprocess.run([MLOPS, *args], capture_output=True, text=True, env=env, timeout=600)


def test_mlops_specs_lists_the_good_ones_and_exits_1_naming_the_broken_file(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv"))
    broken = _write_broken(platform)
    done = _mlops(platform, "specs")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"churn\tbinary\t{platform.data / 'customers.csv'}"]
    assert (
        f"mlops specs: broken spec file: {broken}: invalid spec: target.expression" in done.stderr
    )


def test_a_command_about_one_spec_never_imports_the_code_location(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv"))
    _write_broken(platform)
    probe = textwrap.dedent(
        """
        import json, sys
        from mlops_assets.cli import audit
        trail = audit("churn")
        print(json.dumps({"spec": trail.to_dict()["spec"], "events": len(trail.events),
                          "definitions": "mlops_assets.definitions" in sys.modules}))
        """
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(platform.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(platform.specs),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "spec": "churn",
        "events": 0,
        "definitions": False,
    }


@pytest.mark.slow
def test_mlops_run_prints_the_platform_message_as_its_one_line_reason(platform):
    path = platform.data / "customers.csv"
    spec = churn_spec(path, rows=300)
    text = path.read_bytes().replace(b"basic", b"b\xe9sic", 1)
    path.write_bytes(text)
    platform.write_spec(spec)
    _write_broken(platform)  # another spec's broken file does not matter
    done = _mlops(platform, "run", "--spec", "churn")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"mlops run: failed: {path}: byte 0xE9 at offset "), last
    assert "is not valid UTF-8" in last and "(rule: source.csv.encoding)" in last
    assert "Original error" not in last and "invalid utf-8 sequence" not in last
    assert yaml.safe_load((platform.specs / "churn.yaml").read_text())["name"] == "churn"
