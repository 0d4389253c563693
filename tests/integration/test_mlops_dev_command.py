"""`mlops dev` refuses to start, and starts nothing, when a port it needs is taken."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, free_port


def test_a_busy_mlflow_port_is_named_and_nothing_starts(platform):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "mlops"),
                "dev",
                "--port",
                str(free_port()),
                "--mlflow-port",
                str(busy),
                "--exporter-port",
                str(free_port()),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert f"MLflow UI port {busy} is in use (make run MLFLOW_PORT=...)" in result.stderr
    assert "Dagster UI is up" not in result.stderr
    assert not (platform.home / "mlflow").exists()  # not even the store was created
