"""`mlops serve` as a process: it serves the champion on the port it is given, and SIGTERM stops
it cleanly after appending the inference log's last rows."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT, churn_spec, free_port
from tests.online.conftest import http, json_rows, raw_rows

pytestmark = pytest.mark.slow


def test_mlops_serve_answers_and_flushes_its_log_on_sigterm(platform):
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=600))
    assert platform.run("churn")["success"]
    port = free_port()
    log_path = platform.home / "serve.log"
    command = [str(Path(sys.executable).parent / "mlops"), "serve", "--spec", "churn"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--poll-seconds", "1"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if http("GET", f"{url}/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        rows = json_rows(raw_rows(platform, "churn").head(7))
        status, answer = http("POST", f"{url}/predict", {"rows": rows})
        assert status == 200 and answer["model_version"] == "1", answer
        status, metrics = http("GET", f"{url}/metrics")
        assert status == 200 and "mlops_serving_requests_total" in metrics
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log_path.read_text()
    landing = pl.read_delta(str(platform.home / "tables" / "churn" / "_landing" / "inference_log"))
    assert sorted(landing["customer_id"].to_list()) == sorted(r["customer_id"] for r in rows)
    output = log_path.read_text()
    assert "serving churn_model version 1" in output
    started = re.search(
        r"scoring churn on (\d+) polars thread\(s\); (\d+) startup objects frozen", output
    )
    assert started, output
    assert started[1] == "1"  # the default of `mlops serve`
    assert int(started[2]) > 100_000  # the imports' objects, out of the garbage collector's way
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
