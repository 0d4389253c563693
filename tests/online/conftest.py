"""A trained platform per test module, and the online service on 127.0.0.1 in front of it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import ROOT, Platform, churn_spec, customers_table, free_port

DAYS = 10
FIRST_DAY = dt.date(2024, 1, 1)


def daily_churn_spec(path: Path, rows: int = 1500) -> dict[str, Any]:
    """Churn with a daily event time, rules on every declared column, ids and PII dropped."""
    customers_table(rows).with_columns(
        (pl.lit(FIRST_DAY) + pl.duration(days=pl.int_range(pl.len()) % DAYS)).alias("signup_date")
    ).write_csv(path)
    return churn_spec(
        path,
        columns={
            "tenure_months": {"dtype": "int", "min": 0, "max": 120, "nullable": False},
            "plan": {"dtype": "string", "allowed": ["basic", "plus", "pro"]},
            "monthly_spend": {"dtype": "float", "min": 0},
        },
        time={
            "column": "signup_date",
            "grain": "daily",
            "partitions": "daily",  # the inference log is materialized a day at a time
            "start": "2024-01-01",
            "end": "2024-01-11",
        },
        split={"valid_fraction": 0.15, "test_fraction": 0.2},
    )


@contextmanager
def module_platform(root: Path) -> Iterator[Platform]:
    """Like the `platform` fixture, for a whole module (training once is what keeps it quick)."""
    platform = Platform(root / "dagster_home", root / "specs", root / "data")
    for folder in (platform.home, platform.specs, platform.data):
        folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", platform.home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(platform.home))
        env.setenv("MLOPS_BUILTIN_SPECS", "0")
        env.setenv("MLOPS_SPECS_PATH", str(platform.specs))
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("MLOPS_DATA_ROOT", raising=False)
        env.delenv("MLOPS_PII_KEY", raising=False)
        yield platform


def http(method: str, url: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
    """One request; the status and the decoded JSON body (or the text, for /metrics)."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload, kind = (
                response.status,
                response.read(),
                response.headers["Content-Type"],
            )
    except urllib.error.HTTPError as error:
        status, payload, kind = error.code, error.read(), error.headers["Content-Type"]
    return status, json.loads(payload) if "json" in (kind or "") else payload.decode()


@dataclass
class Served:
    """The online service of one spec, running on 127.0.0.1."""

    url: str
    service: Any

    def get(self, path: str) -> tuple[int, Any]:
        return http("GET", self.url + path)

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return http("POST", self.url + path, body)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/v2/health/ready")[0] != 200:
            assert time.monotonic() < deadline, "the service never loaded a model"
            time.sleep(0.1)


@contextmanager
def serving(
    spec_name: str, poll_seconds: float = 0.2, log_max_seconds: float = 0.2
) -> Iterator[Served]:
    """`mlops serve --spec NAME` in a thread of this process, on a free port of 127.0.0.1."""
    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.online.server import build_service, uvicorn_server
    from mlops_assets.specs import find_spec

    spec = find_spec(spec_name)
    service = build_service(
        spec, SpecAssets(spec).raw, poll_seconds=poll_seconds, log_max_seconds=log_max_seconds
    )
    port = free_port()
    server = uvicorn_server(service, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    served = Served(f"http://127.0.0.1:{port}", service)
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=120)
        assert not thread.is_alive(), "the service did not stop"


def raw_rows(platform: Platform, spec_name: str) -> pl.DataFrame:
    """The spec's raw table as the batch path stored it, without the columns the platform adds."""
    frame = pl.read_delta(str(platform.home / "tables" / spec_name / "raw"))
    return frame.drop("_event_time", "_partition", "_window", strict=False)


def json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as a client sends them: JSON values, dates as ISO text."""
    return json.loads(frame.write_json())
