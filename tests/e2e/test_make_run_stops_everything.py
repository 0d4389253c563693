"""`make run` starts Dagster, the MLflow UI and the exporter, and Ctrl+C or SIGTERM stops every process.

Real servers on free ports over a temp Dagster home: the test waits until the
Dagster webserver, the MLflow server and the exporter answer, records every
process below `make` (webserver, daemon, code servers, uvicorn workers, ...),
sends the signal and asserts that each of them is gone within seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, churn_spec, free_port

pytestmark = pytest.mark.slow
START_SECONDS = 300
STOP_SECONDS = 10


def _answers(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def _start(argv: list[str], log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "MLOPS_BOOTSTRAP": "0", "MLOPS_AUTOMATION": "0"}
    with log_path.open("w") as log:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_until_serving(process: subprocess.Popen, urls: list[str], log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    waiting = list(urls)
    while waiting and time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-3000:]
        waiting = [url for url in waiting if _answers(url) is None]
        time.sleep(1)
    assert not waiting, f"not answering: {waiting}\n{log_path.read_text()[-3000:]}"


def _stop_and_check(process: subprocess.Popen, send, log_path: Path) -> None:
    processes = _tree(process.pid)
    names = " ".join(" ".join(p.cmdline()) for p in processes)
    for expected in ("dagster dev", "dagster_webserver", "dagster._daemon", "code-server"):
        assert expected in names, names
    assert "mlflow server" in names and "uvicorn" in names, names
    assert "exporter" in names, names
    started = time.monotonic()
    send()
    deadline = started + STOP_SECONDS
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    took = time.monotonic() - started
    assert not _alive(processes), (
        f"alive {took:.1f} s after the signal: {_alive(processes)}\n{log_path.read_text()[-2000:]}"
    )
    process.wait(timeout=5)


def test_make_run_serves_dagster_mlflow_and_metrics_and_ctrl_c_stops_every_process(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=300))
    port, mlflow_port, exporter_port = free_port(), free_port(), free_port()
    log_path = platform.home / "make_run.log"
    make = _start(
        [
            "make",
            "run",
            f"PORT={port}",
            f"MLFLOW_PORT={mlflow_port}",
            f"EXPORTER_PORT={exporter_port}",
        ],
        log_path,
    )
    try:
        _wait_until_serving(
            make,
            [
                f"http://127.0.0.1:{port}/server_info",
                f"http://127.0.0.1:{mlflow_port}/health",
                f"http://127.0.0.1:{exporter_port}/metrics",
            ],
            log_path,
        )
        log = log_path.read_text()
        for url in (
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{mlflow_port}",
            f"http://127.0.0.1:{exporter_port}/metrics",
        ):
            assert url in log, log[-3000:]
        # The MLflow UI reads the embedded store the platform writes: the experiment the
        # platform would create is visible through the server's REST API.
        from resources.mlflow_tracking import MlflowTracking, default_tracking_uri

        MlflowTracking(mlflow_tracking_uri=default_tracking_uri()).experiment_id("churn")
        request = urllib.request.Request(
            f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow/experiments/get-by-name"
            "?experiment_name=mlops/churn"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["experiment"]["name"] == "mlops/churn"
        # Ctrl+C: the terminal sends SIGINT to the whole foreground process group.
        _stop_and_check(make, lambda: os.killpg(make.pid, signal.SIGINT), log_path)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


def test_sigterm_to_mlops_dev_alone_stops_every_process(platform):
    """A service manager sends SIGTERM to the supervisor's pid only, not to its group."""
    port, mlflow_port, exporter_port = free_port(), free_port(), free_port()
    log_path = platform.home / "mlops_dev.log"
    mlops = str(Path(sys.executable).parent / "mlops")
    dev = _start(
        [
            mlops,
            "dev",
            "--port",
            str(port),
            "--mlflow-port",
            str(mlflow_port),
            "--exporter-port",
            str(exporter_port),
        ],
        log_path,
    )
    try:
        _wait_until_serving(
            dev,
            [f"http://127.0.0.1:{port}/server_info", f"http://127.0.0.1:{mlflow_port}/health"],
            log_path,
        )
        _stop_and_check(dev, lambda: os.kill(dev.pid, signal.SIGTERM), log_path)
        assert dev.returncode == 0, log_path.read_text()[-2000:]
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
