"""The code location loads without the heavy libraries: they are imported where they are used.

A code server, a webserver reload and every CLI command load the definitions; MLflow, pandera,
scipy, scikit-learn, matplotlib and LightGBM together cost several CPU-seconds to import, which a
busy machine pays on every start (issue 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("mlflow", "pandera", "pandas", "scipy", "sklearn", "matplotlib", "lightgbm")
PROBE = """
import json, sys
import mlops_assets.definitions as definitions
defs = definitions.defs
assert defs.resolve_all_asset_specs(), "no assets were defined"
print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))
"""


def test_loading_the_definitions_imports_no_heavy_library(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MLOPS_BUILTIN_SPECS": "1"}
    env.pop("MLOPS_SPECS_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "dagster" in loaded and "polars" in loaded
    assert not loaded & set(HEAVY), f"imported at load time: {sorted(loaded & set(HEAVY))}"
