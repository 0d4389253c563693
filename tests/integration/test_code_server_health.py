"""The image's health check: a code server with a load error is unhealthy, a loaded one healthy."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_assets.code_server_health import code_server_problem
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
START_SECONDS = 120


def _serve(module: str, port: int, workdir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{workdir}:{ROOT}", "MLOPS_BUILTIN_SPECS": "0"}
    with log.open("w") as out:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "dagster", "code-server", "start"),
                *("-h", "127.0.0.1", "-p", str(port), "-m", module),
            ],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _answer_once_reachable(port: int, server: subprocess.Popen, log: Path) -> str | None:
    """The check's verdict once the server accepts connections."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        problem = code_server_problem("127.0.0.1", port)
        if problem is None or "Unreachable" not in problem:
            return problem
        time.sleep(1)
    raise AssertionError(f"the code server never answered:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("broken", [False, True], ids=["loads", "load_error"])
def test_health_check_reports_load_errors(tmp_path: Path, broken: bool) -> None:
    module = "broken_location" if broken else "mlops_assets.definitions"
    (tmp_path / "broken_location.py").write_text("import a_library_the_image_lacks  # noqa: F401\n")
    port = free_port()
    log = tmp_path / "server.log"
    server = _serve(module, port, tmp_path, log)
    try:
        problem = _answer_once_reachable(port, server, log)
        if broken:
            assert problem is not None and "a_library_the_image_lacks" in problem, problem
        else:
            assert problem is None, problem
        health = subprocess.run(
            [sys.executable, "-m", "mlops_assets.code_server_health"],
            env={**os.environ, "GRPC_PORT": str(port), "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (health.returncode != 0) == broken, health.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
