"""Drift detection at scale: this project's polars `column_drift` against Evidently.

Both tools compare a reference and a current table of the same size (20 columns:
14 numeric, 6 categorical with 20 categories; the current table has a few shifted
columns) and decide per column whether it drifted. Each tool runs in its own fresh
subprocess so peak memory is measured separately.

    # the whole comparison (driver): prints the markdown table
    .venv/bin/python benchmarks/drift_vs_evidently.py --sizes 1000000 10000000

    # one measurement (what the driver runs)
    .venv/bin/python benchmarks/drift_vs_evidently.py --tool mlops --rows 1000000
    .venv/bin/uv run --no-project --with evidently==0.7.23 --with 'pandas<3' \
        --with polars --with numpy --with scipy \
        python benchmarks/drift_vs_evidently.py --tool evidently --rows 1000000

Evidently is never a project dependency: the driver runs it through
``uv run --no-project --with ...`` (an ephemeral environment). Evidently needs
pandas, so its child converts the polars frames with ``to_pandas()`` before the
timed region and frees the polars frames; the timed region starts at
``Dataset.from_pandas``. Evidently is configured with the same methods as this
project's ``auto`` rule at these sizes: Wasserstein (normed) for numeric and
Jensen-Shannon for categorical columns, threshold 0.1.

Peak memory is the largest VmRSS (sampled every 5 ms from /proc/self/status by a
thread) during the timed region; it includes the data already in memory. Data MB is
the sum of ``estimated_size()`` of the two polars frames.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = [f"num_{i:02d}" for i in range(14)]
CATEGORICAL = [f"cat_{i:02d}" for i in range(6)]
CATEGORIES = [f"c{i:02d}" for i in range(20)]
SHIFTED = {
    "num_00": "mean +0.5 sd",
    "num_03": "scale x1.5",
    "num_07": "mean +0.05 sd (below threshold)",
    "cat_00": "category mix reversed",
    "cat_04": "3 categories gain 10 points",
}
EVIDENTLY_COMMAND = [
    str(ROOT / ".venv" / "bin" / "uv"),
    "run",
    "--no-project",
    "--with",
    "evidently==0.7.23",
    "--with",
    "pandas<3",
    "--with",
    "polars",
    "--with",
    "numpy",
    "--with",
    "scipy",
    "python",
]


def _numeric_column(rng: np.random.Generator, index: int, rows: int, current: bool) -> np.ndarray:
    kind = index % 5
    if kind == 0:
        values = rng.normal(100.0, 15.0, rows)
    elif kind == 1:
        values = rng.lognormal(3.0, 0.6, rows)
    elif kind == 2:
        values = rng.uniform(-1.0, 1.0, rows)
    elif kind == 3:
        values = rng.exponential(2.0, rows)
    else:
        values = rng.poisson(20.0, rows).astype(np.float64)
    if current:
        name = NUMERIC[index]
        spread = float(values.std())
        if name == "num_00":
            values += 0.5 * spread
        elif name == "num_03":
            values = values.mean() + (values - values.mean()) * 1.5
        elif name == "num_07":
            values += 0.05 * spread
    return values


def _categorical_column(
    rng: np.random.Generator, index: int, rows: int, current: bool
) -> pl.Series:
    weights = 1.0 / np.arange(1, len(CATEGORIES) + 1)
    name = CATEGORICAL[index]
    if current and name == "cat_00":
        weights = weights[::-1].copy()
    weights = weights / weights.sum()
    if current and name == "cat_04":
        weights[[5, 10, 15]] += 0.10
        weights = weights / weights.sum()
    codes = rng.choice(len(CATEGORIES), size=rows, p=weights).astype(np.uint32)
    return pl.Series(name, CATEGORIES, dtype=pl.Enum(CATEGORIES)).gather(codes)


def make_frame(rows: int, current: bool) -> pl.DataFrame:
    """A synthetic table: reference (seed 1) or current (seed 2, some columns shifted)."""
    rng = np.random.default_rng(2 if current else 1)
    columns: list[pl.Series] = [
        pl.Series(name, _numeric_column(rng, i, rows, current)) for i, name in enumerate(NUMERIC)
    ]
    columns += [_categorical_column(rng, i, rows, current) for i in range(len(CATEGORICAL))]
    return pl.DataFrame(columns)


class PeakRss:
    """Largest VmRSS of this process while the block runs, sampled by a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self.rss_kb())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak_kb = self.rss_kb()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, self.rss_kb())


def run_mlops(frames: list[pl.DataFrame]) -> dict[str, Any]:
    from mlops_assets.drift import DriftSettings, column_drift, dataset_drift

    reference, current = frames
    settings = DriftSettings()
    gc.collect()
    with PeakRss() as memory:
        start = time.perf_counter()
        report = column_drift(reference, current, NUMERIC + CATEGORICAL, CATEGORICAL, settings)
        share, drifted = dataset_drift(report, settings)
        wall = time.perf_counter() - start
    scores = {row["column"]: row["score"] for row in report.iter_rows(named=True)}
    return {
        "wall_s": wall,
        "peak_mb": memory.peak_kb / 1024,
        "drifted_columns": sorted(report.filter(pl.col("drifted"))["column"].to_list()),
        "methods": sorted(set(report["method"].to_list())),
        "scores": scores,
        "psi": {row["column"]: row["psi"] for row in report.iter_rows(named=True)},
        "dataset_drift_share": share,
        "dataset_drift": drifted,
        "versions": {"polars": pl.__version__, "numpy": np.__version__},
    }


def run_evidently(frames: list[pl.DataFrame]) -> dict[str, Any]:
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference_pandas = frames[0].to_pandas()
    current_pandas = frames[1].to_pandas()
    frames.clear()
    gc.collect()
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    with PeakRss() as memory:
        start = time.perf_counter()
        reference_dataset = Dataset.from_pandas(reference_pandas, data_definition=definition)
        current_dataset = Dataset.from_pandas(current_pandas, data_definition=definition)
        report = Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")])
        snapshot = report.run(current_data=current_dataset, reference_data=reference_dataset)
        result = snapshot.dict()
        wall = time.perf_counter() - start
    scores: dict[str, float] = {}
    drifted_columns: list[str] = []
    share = None
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
            if float(metric["value"]) >= float(config["threshold"]):
                drifted_columns.append(config["column"])
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            share = metric["value"].get("share")
    return {
        "wall_s": wall,
        "peak_mb": memory.peak_kb / 1024,
        "drifted_columns": sorted(drifted_columns),
        "methods": ["wasserstein", "jensenshannon"],
        "scores": scores,
        "dataset_drift_share": share,
        "versions": {"evidently": evidently.__version__, "pandas": pd.__version__},
    }


def measure(tool: str, rows: int) -> dict[str, Any]:
    """Build the data, run one tool on it, and return its measurements."""
    start = time.perf_counter()
    frames = [make_frame(rows, current=False), make_frame(rows, current=True)]
    data_mb = sum(frame.estimated_size() for frame in frames) / 2**20
    setup_s = time.perf_counter() - start
    runner = run_mlops if tool == "mlops" else run_evidently
    result = runner(frames)
    return {
        "tool": tool,
        "rows": rows,
        "data_mb": data_mb,
        "setup_s": setup_s,
        "python": sys.version.split()[0],
        **result,
    }


def _child_command(tool: str, rows: int) -> list[str]:
    script = str(Path(__file__).resolve())
    prefix = [sys.executable] if tool == "mlops" else EVIDENTLY_COMMAND
    return [*prefix, script, "--tool", tool, "--rows", str(rows)]


def _process_tree_rss_kb(pid: int) -> int:
    """RSS of a process and its children (uv run starts python as a child)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending.extend(int(child) for child in children)
    return total


def run_child(tool: str, rows: int, timeout_s: float, max_rss_gb: float) -> dict[str, Any]:
    """Run one measurement in a fresh subprocess; stop it on timeout or memory cap."""
    command = _child_command(tool, rows)
    print(f"$ {' '.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    peak_kb = 0
    stopped = None
    while process.poll() is None:
        peak_kb = max(peak_kb, _process_tree_rss_kb(process.pid))
        elapsed = time.perf_counter() - start
        if elapsed > timeout_s:
            stopped = f"timeout after {timeout_s:.0f} s"
        elif peak_kb > max_rss_gb * 2**20:
            stopped = f"stopped at {max_rss_gb:.0f} GB RSS"
        if stopped:
            os.killpg(process.pid, 9)
            process.wait()
            break
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    elapsed = time.perf_counter() - start
    if stopped or process.returncode != 0:
        reason = stopped or f"exit code {process.returncode}"
        if process.returncode in (-9, 137) and not stopped:
            reason = "killed (out of memory?)"
        return {
            "tool": tool,
            "rows": rows,
            "failed": reason,
            "elapsed_s": elapsed,
            "peak_mb": peak_kb / 1024,
        }
    return json.loads(output.strip().splitlines()[-1])


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The comparison table: one row per (size, tool), speed-up against Evidently."""
    lines = [
        "| rows | tool | wall s | peak MB | data MB | peak/data | speed-up |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    evidently_wall = {
        r["rows"]: r["wall_s"] for r in results if r["tool"] == "evidently" and "failed" not in r
    }
    evidently_failed = {r["rows"]: r for r in results if r["tool"] == "evidently" and "failed" in r}
    data_mb = {r["rows"]: r["data_mb"] for r in results if "data_mb" in r}
    for r in results:
        rows = f"{r['rows']:,}"
        tool = "this project" if r["tool"] == "mlops" else "Evidently"
        data = data_mb.get(r["rows"])
        data_text = f"{data:,.0f}" if data else "-"
        if "failed" in r:
            lines.append(
                f"| {rows} | {tool} | {r['failed']} | >= {r['peak_mb']:,.0f} (process) "
                f"| {data_text} | - | - |"
            )
            continue
        ratio = r["peak_mb"] / r["data_mb"]
        if r["tool"] == "evidently":
            speed = "1x"
        elif r["rows"] in evidently_wall:
            speed = f"{evidently_wall[r['rows']] / r['wall_s']:,.1f}x"
        elif r["rows"] in evidently_failed:
            speed = f"> {evidently_failed[r['rows']]['elapsed_s'] / r['wall_s']:,.0f}x"
        else:
            speed = "-"
        lines.append(
            f"| {rows} | {tool} | {r['wall_s']:,.2f} | {r['peak_mb']:,.0f} | {r['data_mb']:,.0f} "
            f"| {ratio:.2f} | {speed} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", choices=["mlops", "evidently"], help="run one measurement")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--tools", nargs="+", default=["mlops", "evidently"])
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per child")
    parser.add_argument("--max-rss-gb", type=float, default=18.0, help="stop a child above this")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()

    if args.tool:
        print(json.dumps(measure(args.tool, args.rows)))
        return
    results = []
    for rows in args.sizes:
        for tool in args.tools:
            result = run_child(tool, rows, args.timeout, args.max_rss_gb)
            print(json.dumps(result), file=sys.stderr, flush=True)
            results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
