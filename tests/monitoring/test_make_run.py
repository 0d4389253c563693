"""`make run` starts the metrics exporter beside dagster dev, and Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT, churn_spec, free_port

pytestmark = pytest.mark.slow
WAIT_SECONDS = 300


def _answers(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_serves_metrics_and_stops_them_with_dagster_dev(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=300))
    port, exporter_port, mlflow_port = free_port(), free_port(), free_port()
    log_path = platform.home / "make_run.log"
    env = {**os.environ, "MLOPS_BOOTSTRAP": "0", "MLOPS_AUTOMATION": "0"}
    with log_path.open("w") as log:
        make = subprocess.Popen(
            [
                "make",
                "run",
                f"PORT={port}",
                f"EXPORTER_PORT={exporter_port}",
                f"MLFLOW_PORT={mlflow_port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    metrics = webserver = None
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while (metrics is None or webserver is None) and time.monotonic() < deadline:
            assert make.poll() is None, log_path.read_text()[-3000:]
            metrics = metrics or _answers(f"http://127.0.0.1:{exporter_port}/metrics")
            webserver = webserver or _answers(f"http://127.0.0.1:{port}/server_info")
            time.sleep(1)
        assert metrics is not None, log_path.read_text()[-3000:]
        assert webserver is not None, log_path.read_text()[-3000:]
        assert b'mlops_exporter_spec_up{spec="churn"} 1.0' in metrics
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
        make.wait(timeout=120)
        deadline = time.monotonic() + 120
        while _listening(exporter_port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _listening(exporter_port), "the exporter outlived make run"
        assert not _listening(port), "dagster dev outlived make run"
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
