"""Sensor-tick benchmark: the drift retraining sensor against a real on-disk Dagster instance.

A temporary `DAGSTER_HOME` gets a copy of the project's `dagster.yaml` (SQLite
storage) and is opened with `dagster.DagsterInstance.get()`. The benchmark records
runless materializations of a daily-partitioned drift asset (`bench/drift`, one per
partition from 2021-01-01 on, with metadata shaped like the real drift asset's)
and then times `sensor(dg.build_sensor_context(instance=instance, cursor=cursor))`
for three kinds of tick:

* `nothing new`: the cursor already names the latest window, so the tick skips;
* `retrain signal`: the first tick (no cursor) and the latest window carries a
  retrain signal, so the tick requests one run;
* `within cooldown`: the latest window carries a signal but the previous
  drift-triggered retraining was an hour ago (cooldown 72 h), so the tick notes
  the window and skips.

Each kind runs `--repeat` times at each size in `--counts`. Sizes are recorded
cumulatively into the same instance. Recording stops once `--record-budget`
seconds have gone into it in all; the ticks are then timed at the count reached
and the note under the table says so. The markdown table goes to stdout;
progress goes to stderr.

Run from the project root: `.venv/bin/python benchmarks/sensor_tick.py [--counts ...] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform as pyplatform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import dagster as dg

from sensors.drift_retraining import build_drift_retraining_sensor
from sensors.retraining import build_retraining_job

ROOT = Path(__file__).resolve().parents[1]
SPEC_NAME = "bench"
DRIFT = dg.AssetKey(["bench", "drift"])
FIRST_DAY = dt.date(2021, 1, 1)
COOLDOWN_HOURS = 72.0
COLUMNS = tuple(f"feature_{i:02d}" for i in range(30))
DRIFTED = 10
TABLE_ROWS = 10
TARGET_SECONDS = 0.5
TARGET_COUNT = 1_000
SCENARIOS = ("nothing new", "retrain signal", "within cooldown")


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def window(index: int) -> str:
    """The daily partition key of the `index`-th window (0 is 2021-01-01)."""
    return (FIRST_DAY + dt.timedelta(days=index)).isoformat()


def drift_metadata(index: int, signal: bool) -> dict[str, Any]:
    """Metadata shaped like the real drift asset's: signal, share, drifted names, table, severities."""
    offset = index % len(COLUMNS)
    names = [COLUMNS[(offset + i) % len(COLUMNS)] for i in range(DRIFTED)]
    share = DRIFTED / len(COLUMNS) if signal else 0.05 + (index % 5) / 100
    header = "| column | kind | method | score | threshold | drifted | psi |\n|---|---|---|---|---|---|---|\n"
    rows = "".join(
        f"| {name} | numeric | wasserstein | {0.05 + 0.013 * i:.4f} | 0.1 | {i < DRIFTED // 2} | "
        f"{0.02 + 0.007 * i:.4f} |\n"
        for i, name in enumerate(names[:TABLE_ROWS])
    )
    severities = {
        f"drift_severity_{name}": dg.MetadataValue.float(((index + i) % 97) / 40)
        for i, name in enumerate(COLUMNS)
    }
    return {
        "retrain_signal": dg.MetadataValue.bool(signal),
        "drift_share": dg.MetadataValue.float(share),
        "dataset_drift": dg.MetadataValue.bool(signal),
        "drifted_features": dg.MetadataValue.json(names),
        "feature_drift": dg.MetadataValue.md(header + rows),
        **severities,
    }


def record(instance: dg.DagsterInstance, start: int, stop: int, deadline: float) -> int:
    """Report windows `start..stop-1` as runless materializations; returns how many are recorded.

    Every seventh window signals, and so does the last one recorded: the one before
    `stop`, or the first one begun at or after `deadline` (a `perf_counter` value).
    """
    for index in range(start, stop):
        last = index == stop - 1 or time.perf_counter() >= deadline
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=DRIFT,
                partition=window(index),
                metadata=drift_metadata(index, index % 7 == 6 or last),
            )
        )
        if (index + 1) % 1000 == 0:
            progress(f"recorded {index + 1} materializations")
        if last:
            return index + 1
    return stop


def cursors(latest: str, previous: str) -> dict[str, str | None]:
    """The cursor each scenario starts its tick from."""
    return {
        "nothing new": json.dumps({"last_window": latest, "last_trigger_at": time.time() - 3600}),
        "retrain signal": None,
        "within cooldown": json.dumps(
            {"last_window": previous, "last_trigger_at": time.time() - 3600}
        ),
    }


def check(scenario: str, result: dg.SensorResult | dg.SkipReason, latest: str) -> None:
    """Fail loudly if a tick did not take the path its scenario is about."""
    if scenario == "nothing new":
        ok = isinstance(result, dg.SkipReason) and "already handled" in (result.skip_message or "")
    elif scenario == "retrain signal":
        ok = (
            isinstance(result, dg.SensorResult)
            and len(result.run_requests or []) == 1
            and result.run_requests[0].run_key == f"drift-{SPEC_NAME}-{latest}"
        )
    else:
        ok = (
            isinstance(result, dg.SensorResult)
            and not result.run_requests
            and result.skip_reason is not None
            and "cooldown" in (result.skip_reason.skip_message or "")
        )
    if not ok:
        raise RuntimeError(f"tick '{scenario}' took an unexpected path: {result!r}")


@dataclass
class Size:
    """Timings at one number of recorded materializations."""

    count: int
    record_seconds: float
    ticks: dict[str, list[float]] = field(default_factory=dict)
    fetch: list[float] = field(default_factory=list)


def time_ticks(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, count: int, repeat: int
) -> Size:
    """Each scenario's tick `repeat` times, plus the bare `fetch_materializations(limit=1)`."""
    latest, previous = window(count - 1), window(count - 2)
    size = Size(count=count, record_seconds=0.0)
    for scenario in SCENARIOS:
        spans: list[float] = []
        for _ in range(repeat):
            cursor = cursors(latest, previous)[scenario]
            began = time.perf_counter()
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            spans.append(time.perf_counter() - began)
            check(scenario, result, latest)
        size.ticks[scenario] = spans
    for _ in range(repeat):
        began = time.perf_counter()
        records = instance.fetch_materializations(DRIFT, limit=1).records
        size.fetch.append(time.perf_counter() - began)
        assert records[0].asset_materialization.partition == latest
    return size


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the 19th of 20)."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


@contextmanager
def dagster_home() -> Iterator[Path]:
    """A temporary DAGSTER_HOME holding a copy of the project's dagster.yaml."""
    saved = os.environ.get("DAGSTER_HOME")
    with tempfile.TemporaryDirectory(prefix="bench-sensor-") as folder:
        home = Path(folder)
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
        try:
            yield home
        finally:
            if saved is None:
                os.environ.pop("DAGSTER_HOME", None)
            else:
                os.environ["DAGSTER_HOME"] = saved


def machine() -> str:
    """nproc, RAM, Python and Dagster versions, CPU model and load average."""
    with open("/proc/meminfo") as meminfo:
        kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    cpu = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, RAM {kb / 1024**2:.1f} GiB, CPU {cpu}, "
        f"Python {pyplatform.python_version()}, dagster {importlib_metadata.version('dagster')}, "
        f"load average at start {load}"
    )


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1000:.1f}"


def render(sizes: list[Size], notes: list[str], repeat: int, host: str) -> str:
    """The markdown table and the notes under it."""
    lines = [
        "| materializations | recording s | tick | median ms | p95 ms | max ms |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for size in sizes:
        rows = [*size.ticks.items(), ("`fetch_materializations(limit=1)` alone", size.fetch)]
        for scenario, spans in rows:
            lines.append(
                f"| {size.count:,} | {size.record_seconds:.1f} | {scenario} | "
                f"{ms(statistics.median(spans))} | {ms(p95(spans))} | {ms(max(spans))} |"
            )
    lines.append("")
    lines.append(
        f"{repeat} ticks per row; p95 is nearest-rank. Recording s is the cumulative time to "
        "record that many runless materializations (one per daily partition) with "
        "`report_runless_asset_event`."
    )
    target = next((size for size in sizes if size.count == TARGET_COUNT), None)
    if target is not None:
        worst = max(p95(spans) for spans in target.ticks.values())
        verdict = "met" if worst < TARGET_SECONDS else "not met"
        lines.append(
            f"Target (a tick under {TARGET_SECONDS} s with {TARGET_COUNT:,} materialized "
            f"partitions): **{verdict}**, worst p95 {ms(worst)} ms."
        )
    lines.extend(notes)
    lines.append(f"Machine: {host}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Record, tick, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--record-budget",
        type=float,
        default=180.0,
        help="stop recording after this many seconds in all and time the ticks at the count reached",
    )
    args = parser.parse_args(argv)
    host = machine()
    job = build_retraining_job(SPEC_NAME, [dg.AssetKey(["bench", "model"])])
    sensor = build_drift_retraining_sensor(
        SPEC_NAME, DRIFT, job, COOLDOWN_HOURS, dg.DefaultSensorStatus.RUNNING
    )
    sizes: list[Size] = []
    notes: list[str] = []
    with dagster_home() as home:
        instance = dg.DagsterInstance.get()
        progress(f"instance at {home} ({type(instance.event_log_storage).__name__})")
        try:
            recorded, began = 0, time.perf_counter()
            deadline = began + args.record_budget
            for count in sorted(set(args.counts)):
                if time.perf_counter() >= deadline:
                    notes.append(f"{count:,} materializations: recording budget already spent.")
                    break
                progress(f"recording up to {count} materializations")
                recorded = record(instance, recorded, count, deadline)
                elapsed = time.perf_counter() - began
                if recorded < count:
                    notes.append(
                        f"{count:,} materializations not reached: the {args.record_budget:.0f} s "
                        f"recording budget ran out at {recorded:,} ({elapsed:.0f} s); at that "
                        f"rate {count:,} would take about {elapsed * count / recorded:.0f} s. "
                        f"The {recorded:,} row shows ticks at that size."
                    )
                progress(f"{recorded} recorded in {elapsed:.1f} s; timing ticks")
                size = time_ticks(sensor, instance, recorded, args.repeat)
                size.record_seconds = elapsed
                sizes.append(size)
                if recorded < count:
                    break
        finally:
            instance.dispose()
    print(render(sizes, notes, args.repeat, host))
    return 0


if __name__ == "__main__":
    sys.exit(main())
