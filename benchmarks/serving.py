"""Online serving benchmark: `mlops serve` beside `mlflow models serve` on the same model version.

A fresh temporary `DAGSTER_HOME` gets the flights slice spec of the tests
(`tests/conftest.py::flights_slice_spec`: 2013-01-01 to 2013-01-21, lookup joins
of weather and planes) and the pipeline materializes it (`run_spec`), so
`flights_slice_model` version 1 is the champion. Then two servers,
both on 127.0.0.1 with `OMP_WAIT_POLICY=PASSIVE`:

* `mlops serve --spec flights_slice`: one process; it takes the rows as the
  source holds them, validates them by the spec's rules, builds their features
  (time parts, joins) and scores them; it also logs every row to Delta;
* the anchor, `mlflow models serve -m models:/flights_slice_model@champion
  --env-manager local` (its default: one uvicorn worker): it takes the model's
  input, the feature columns of the same rows (`dataframe_split`), so it does
  none of that work.

The load is closed-loop: for each concurrency (1, 8, 32) and request size (1
row, 100 rows), a fixed number of requests is spread over that many keep-alive
connections, each sending its next request when the previous answer is read.
Both servers run side by side and take turns at each level (which goes first
alternates), so a change in the shared machine's load falls on both; 50
requests warm each server up first and are not counted. Latency is from
sending a request to reading its whole answer; throughput is the requests (and
rows) answered divided by the wall time of the level. Every answer must be a
200. The client runs in this process, on the same 2 cores as the server.

`--burners N` runs N busy-looping processes through the measurement, as on a
shared machine; both servers meet the same load.

Run from the project root: `.venv/bin/python benchmarks/serving.py [--requests N] [--batch-requests N] [--burners N]`.
The markdown table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform as pyplatform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SPEC = "flights_slice"
MODEL = f"{SPEC}_model"
CONCURRENCY = (1, 8, 32)
SIZES = (1, 100)
WARM_UP = 50
BIN = Path(sys.executable).parent
KEY = pl.concat_str(
    pl.col("carrier"),
    pl.col("flight").cast(pl.Int64).cast(pl.String),
    pl.col("origin"),
    pl.col("_event_time").cast(pl.String),
    separator="|",
).alias("_key")


def burn() -> None:
    """Keep one core busy until killed."""
    while True:
        pass


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_averages() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Payloads:
    """The same flights as the two servers take them: raw rows, and the model's input."""

    raw: list[dict]
    features: list[list]
    columns: list[str]

    def body(self, server: str, start: int, size: int) -> bytes:
        index = [(start + i) % len(self.raw) for i in range(size)]
        if server == "mlops serve":
            return json.dumps({"rows": [self.raw[i] for i in index]}).encode()
        data = [self.features[i] for i in index]
        return json.dumps({"dataframe_split": {"columns": self.columns, "data": data}}).encode()


def materialize(home: Path) -> None:
    """A fresh platform with the flights slice trained and promoted (champion version 1)."""
    from tests.conftest import flights_slice_spec

    specs = home.parent / "specs"
    specs.mkdir()
    (specs / f"{SPEC}.yaml").write_text(yaml.safe_dump(flights_slice_spec(), sort_keys=False))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ.update(
        DAGSTER_HOME=str(home),
        MLOPS_BUILTIN_SPECS="0",
        MLOPS_SPECS_PATH=str(specs),
        GIT_COMMIT="benchmark",
    )
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_DATA_ROOT", "MLFLOW_ARTIFACT_ROOT"):
        os.environ.pop(name, None)
    from mlops_assets.cli import run_spec

    summary = run_spec(SPEC)
    if not summary["success"] or summary["champion_version"] != 1:
        raise SystemExit(f"the flights slice did not train and promote: {summary}")


def payloads(home: Path) -> Payloads:
    """Rows that are in both tables (unique flights with a label), in one order."""
    import mlflow

    from mlops_assets.training.packaged_model import to_model_input

    tables = home / "tables" / SPEC
    raw = pl.read_delta(str(tables / "raw")).with_columns(KEY)
    features = pl.read_delta(str(tables / "features")).with_columns(KEY)
    unique = features.filter(pl.col("_key").is_unique())
    raw = raw.filter(pl.col("_key").is_in(unique["_key"].implode()) & pl.col("_key").is_unique())
    both = raw.select("_key").join(unique, on="_key", how="inner", maintain_order="left")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    encoding = mlflow.pyfunc.load_model(f"models:/{MODEL}/1").unwrap_python_model().encoding
    model_input = pl.from_pandas(to_model_input(both, encoding.features, encoding.categorical))
    return Payloads(
        json.loads(
            raw.drop("_key", "_event_time", "_partition", "_window", strict=False).write_json()
        ),
        [list(row) for row in model_input.iter_rows()],
        model_input.columns,
    )


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    path: str
    ready: str
    process: subprocess.Popen | None = None

    def start(self, env: dict[str, str], log: Path) -> None:
        with log.open("w") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited: {log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready}", timeout=5):
                    return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"{self.name} never became ready: {log.read_text()[-3000:]}"
                    ) from error
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


async def _connection(port: int, path: str, bodies: list[bytes], latencies: list, statuses: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            began = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            statuses.append(status)
    finally:
        writer.close()


async def _level(server: Server, payload: Payloads, size: int, concurrency: int, requests: int):
    bodies = [payload.body(server.name, i * size, size) for i in range(requests)]
    shares = [bodies[i::concurrency] for i in range(concurrency)]
    latencies: list[float] = []
    statuses: list[int] = []
    began = time.perf_counter()
    await asyncio.gather(
        *[_connection(server.port, server.path, s, latencies, statuses) for s in shares]
    )
    return time.perf_counter() - began, latencies, statuses


def measure(servers: list[Server], payload: Payloads, requests: dict[int, int]) -> list[dict]:
    """Every level on every server. The servers run side by side and take turns at each level
    (the first of one level goes last at the next), so a change in the machine's load between
    levels falls on both."""
    for server in servers:
        asyncio.run(_level(server, payload, 1, 1, WARM_UP))
    results = []
    turn = 0
    for size in SIZES:
        for concurrency in CONCURRENCY:
            order = servers if turn % 2 == 0 else servers[::-1]
            turn += 1
            for server in order:
                wall, latencies, statuses = asyncio.run(
                    _level(server, payload, size, concurrency, requests[size])
                )
                errors = sum(s != 200 for s in statuses)
                ms = np.asarray(latencies) * 1000
                row = {
                    "server": server.name,
                    "rows": size,
                    "concurrency": concurrency,
                    "requests": len(statuses),
                    "errors": errors,
                    "requests_per_second": len(statuses) / wall,
                    "rows_per_second": len(statuses) * size / wall,
                    "p50": float(np.quantile(ms, 0.5)),
                    "p95": float(np.quantile(ms, 0.95)),
                    "p99": float(np.quantile(ms, 0.99)),
                    "load_average_1m": os.getloadavg()[0],
                }
                results.append(row)
                progress(
                    f"{server.name}: {size} row(s) x {concurrency}: "
                    f"{row['requests_per_second']:.0f} req/s, p50 {row['p50']:.1f} ms, "
                    f"p99 {row['p99']:.1f} ms, {errors} errors, load {row['load_average_1m']:.2f}"
                )
    return results


def render(results: list[dict], loads: dict[str, str]) -> str:
    lines = [
        "| rows/request | concurrency | server | requests/s | rows/s | p50 ms | p95 ms | p99 ms | errors | load (1 min) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        for concurrency in CONCURRENCY:
            for row in results:
                if row["rows"] == size and row["concurrency"] == concurrency:
                    lines.append(
                        f"| {size} | {concurrency} | {row['server']} | {row['requests_per_second']:,.0f} | "
                        f"{row['rows_per_second']:,.0f} | {row['p50']:.1f} | {row['p95']:.1f} | "
                        f"{row['p99']:.1f} | {row['errors']} | {row['load_average_1m']:.1f} |"
                    )
    lines.append("")
    lines.append(
        f"{pyplatform.python_implementation()} {pyplatform.python_version()}, {os.cpu_count()} cores; "
        + "; ".join(f"load averages {when}: {value}" for when, value in loads.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests per level")
    parser.add_argument(
        "--batch-requests", type=int, default=300, help="100-row requests per level"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--burners",
        type=int,
        default=0,
        help="busy-looping processes running through the measurement (a shared machine's load)",
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="mlops-bench-serving-"))
    home = folder / "dagster_home"
    home.mkdir()
    try:
        progress(f"materializing {SPEC} in {home}")
        materialize(home)
        payload = payloads(home)
        progress(f"{len(payload.raw)} flights in both tables")
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PATH": f"{BIN}:{os.environ['PATH']}"}
        ours_port, anchor_port = free_port(), free_port()
        servers = [
            Server(
                "mlops serve",
                [str(BIN / "mlops"), "serve", "--spec", SPEC, "--port", str(ours_port)],
                ours_port,
                "/predict",
                "/v2/health/ready",
            ),
            Server(
                "mlflow models serve",
                [
                    str(BIN / "mlflow"),
                    *("models", "serve", "-m", f"models:/{MODEL}@champion"),
                    *("--env-manager", "local", "-h", "127.0.0.1", "-p", str(anchor_port)),
                ],
                anchor_port,
                "/invocations",
                "/ping",
            ),
        ]
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        loads = {"before": load_averages()}
        burning: list[multiprocessing.Process] = []
        try:
            for server in servers:
                progress(f"starting {server.name}")
                server.start(env, folder / f"{server.name.split()[0]}.log")
            burning += [
                multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)
            ]
            for process in burning:
                process.start()
            results = measure(servers, payload, {1: args.requests, 100: args.batch_requests})
        finally:
            for process in burning:
                process.kill()
            for server in servers:
                server.stop()
        loads["after"] = load_averages()
        if args.json:
            args.json.write_text(json.dumps({"results": results, "load_averages": loads}, indent=1))
        print(render(results, loads))
        print(f"{args.burners} busy-looping burner process(es) ran through the measurement.")
        failed = sum(row["errors"] for row in results)
        return 1 if failed else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
