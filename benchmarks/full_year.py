"""Full-year benchmark: the platform's Dagster run against a plain polars + LightGBM floor.

Two modes run the same work on the 2013 NYC flights (12 monthly partitions, 365 daily
monitoring windows), each in its own fresh subprocess so that peak memory is per mode.
`--months N` keeps the first N months; `--replicate K` repeats every flight K times (each
copy with its own flight number) in a Parquet source, so `--replicate 30` is 10 million rows:

* `floor` calls the domain functions directly (no Dagster, no MLflow) and writes
  every stage's table to Parquet in a temporary folder: ingest, validate,
  features, split, train, evaluate (with the per-window yardstick), score every
  row, and drift with the retraining policy per day;
* `platform` calls `mlops_assets.cli.run_spec("flights")` against a fresh,
  temporary Dagster home and reads per-step durations from the run's event log.

A background thread samples the process's resident memory (VmRSS) every 50 ms,
so each stage gets the peak inside its own time window. The result is one
markdown table on stdout; progress goes to stderr.

Run from the project root:
`.venv/bin/python benchmarks/full_year.py [--repeat N] [--months N] [--replicate K] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform as pyplatform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC_NAME = "flights"
FLIGHT_NUMBER_STEP = 10_000  # flight numbers stay below it; copy k adds k times it
STAGES = ("ingest", "validate", "features", "split", "train", "evaluate", "score", "drift")
STEP_STAGES = {
    f"{SPEC_NAME}__raw": "ingest",
    f"{SPEC_NAME}__validate": "validate",
    f"{SPEC_NAME}__features": "features",
    f"{SPEC_NAME}__training_set": "split",
    f"{SPEC_NAME}__model": "train",
    f"{SPEC_NAME}__evaluation": "evaluate",
    f"{SPEC_NAME}__predictions": "score",
    f"{SPEC_NAME}__drift": "drift",
}
MODES = ("floor", "platform")
SAMPLE_SECONDS = 0.05
MB = 1024 * 1024


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _status_kb(field: str) -> int:
    """A `kB` field (VmRSS, VmHWM) of this process's /proc status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


class RssSampler:
    """Samples this process's VmRSS on a background thread, with wall-clock timestamps."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), _status_kb("VmRSS") * 1024))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), _status_kb("VmRSS") * 1024))

    def peak_mb(self, start: float, end: float) -> float:
        """Largest sample in [start, end]; the last one before `end` if the window is shorter than a tick."""
        inside = [rss for t, rss in self.samples if start <= t <= end]
        if not inside:
            inside = [rss for t, rss in self.samples if t <= end][-1:] or [self.samples[0][1]]
        return max(inside) / MB


def stage_table(windows: dict[str, tuple[float, float]], rss: RssSampler) -> dict[str, Any]:
    """Seconds and peak RSS of each stage from its [start, end] wall-clock window."""
    return {
        name: {"seconds": end - start, "peak_mb": rss.peak_mb(start, end)}
        for name, (start, end) in windows.items()
    }


def run_floor() -> dict[str, Any]:
    """The same polars and LightGBM work as the platform, called directly, persisted as Parquet."""
    started = time.time()
    import numpy as np
    import polars as pl

    from mlops_assets.evaluation import task_metrics
    from mlops_assets.features.build import build_features
    from mlops_assets.ingest.raw_batch import read_raw_batch
    from mlops_assets.policy.evidence import (
        champion_view,
        expectations_of,
        measure_window,
        windows_of,
    )
    from mlops_assets.policy.retraining import PolicyState, RetrainingPolicy, step
    from mlops_assets.serving.reference import reference_sample
    from mlops_assets.specs import find_spec
    from mlops_assets.training.scope import TrainingScope
    from mlops_assets.training.split import SPLIT, assign_split
    from mlops_assets.training.threshold import best_f1_threshold
    from mlops_assets.training.trainer import feature_candidates, train_booster
    from mlops_assets.validation.rules import validate_batch

    imports_s = time.time() - started
    spec = find_spec(SPEC_NAME)
    windows: dict[str, tuple[float, float]] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        progress(f"floor: {name}")
        start = time.time()
        yield
        windows[name] = (start, time.time())

    with RssSampler() as rss, tempfile.TemporaryDirectory(prefix="bench-floor-") as folder:
        out = Path(folder)
        run_start = time.time()
        with stage("ingest"):
            span = (
                dt.datetime.combine(spec.time.start, dt.time()),
                dt.datetime.combine(spec.time.end, dt.time()),
            )
            raw = read_raw_batch(spec, span, None).frame
            raw.write_parquet(out / "raw.parquet")
        with stage("validate"):
            outcome = validate_batch(spec, raw)
            outcome.valid.write_parquet(out / "validated.parquet")
            outcome.rejected.write_parquet(out / "rejected_rows.parquet")
        with stage("features"):
            features = build_features(spec, outcome.valid).frame
            features.write_parquet(out / "features.parquet")
        with stage("split"):
            training_set, _ = assign_split(spec, features)
            training_set.write_parquet(out / "training_set.parquet")
        with stage("train"):
            frame = training_set.filter(pl.col(SPLIT) != "test")
            trained = train_booster(spec, frame, feature_candidates(spec, frame))
            valid = frame.filter(pl.col(SPLIT) == "valid")
            threshold = best_f1_threshold(
                trained.encoding.labels(valid, spec.target.column), trained.predict(valid)
            )
            trained.booster.save_model(str(out / "model.txt"), num_iteration=trained.best_iteration)
        with stage("evaluate"):
            test = training_set.filter(pl.col(SPLIT) == "test")
            y_test = trained.encoding.labels(test, spec.target.column)
            scores = np.asarray(trained.predict(test), dtype=np.float64)
            metrics = task_metrics("binary", y_test, scores, threshold=threshold)
            # The per-window yardstick monitoring uses, as the evaluation asset computes it.
            reference = reference_sample(
                training_set.filter(pl.col(SPLIT) == "train"), spec.drift.max_sample_rows
            )
            view = champion_view(
                spec, trained, TrainingScope.of_training_set(spec, training_set), reference
            )
            expected = expectations_of(view, windows_of(test, spec.time.grain), trained.predict)
            (out / "metrics.json").write_text(json.dumps(metrics))
        with stage("score"):
            scored = features.select("_event_time", "_partition").with_columns(
                pl.Series("prediction", trained.predict(features))
            )
            scored.write_parquet(out / "predictions.parquet")
        with stage("drift"):
            view = view.expecting(expected)
            policy, state, rows = RetrainingPolicy.from_spec(spec), PolicyState(), []
            for start, end, window in windows_of(features, spec.time.grain):
                measured = measure_window(view, start, end, window, trained.predict)
                decision, state = step(policy, state, measured.evidence, expected)
                rows.append(
                    {
                        "window": start,
                        "drift_share": measured.evidence.drift_share,
                        "realized": measured.realized,
                        "decision": decision.action,
                    }
                )
            pl.DataFrame(rows, infer_schema_length=None).write_parquet(out / "drift.parquet")
        run_end = time.time()
    return {
        "stages": stage_table(windows, rss),
        "imports_s": imports_s,
        "after_imports_mb": rss.samples[0][1] / MB,
        "run_s": run_end - run_start,
        "run_peak_mb": rss.peak_mb(run_start, run_end),
        "peak_mb": _status_kb("VmHWM") / 1024,
        "roc_auc": metrics["roc_auc"],
        "rows": {"raw": raw.height, "rejected": outcome.rejected.height, "test": test.height},
    }


def prepare_source(months: int, replicate: int, folder: Path) -> dict[str, str]:
    """The environment that makes `flights` the first `months` of 2013, each flight `replicate`
    times, read from Parquet; the built-in spec unchanged for the whole year once."""
    if months == 12 and replicate == 1:
        return {}
    import polars as pl
    import yaml

    from mlops_assets.ingest.sources import resolve_uri

    builtin = ROOT / "mlops_assets" / "specs" / "builtin" / f"{SPEC_NAME}.yaml"
    spec = yaml.safe_load(builtin.read_text())
    end = dt.date(2013 + months // 12, months % 12 + 1, 1)
    with zipfile.ZipFile(resolve_uri(spec["source"]["uri"])) as archive:
        [member] = archive.namelist()
        text = archive.read(member)
    flights = pl.read_csv(text, infer_schema_length=None, null_values=["NA"]).filter(
        pl.col("month") <= months
    )
    if replicate > 1:
        assert flights["flight"].max() < FLIGHT_NUMBER_STEP
        flights = pl.concat(
            flights.with_columns(pl.col("flight") + copy * FLIGHT_NUMBER_STEP)
            for copy in range(replicate)
        )
    source = folder / "flights.parquet"
    flights.write_parquet(source)
    spec["source"] = {"uri": str(source), "format": "parquet"}
    spec["time"]["end"] = end.isoformat()
    if months < 12:  # the year's split (8 months train, 1 valid, 3 test) in proportion
        start, days = dt.date(2013, 1, 1), (end - dt.date(2013, 1, 1)).days
        spec["split"] = {
            "valid_start": (start + dt.timedelta(days=round(days * 8 / 12))).isoformat(),
            "test_start": (start + dt.timedelta(days=round(days * 9 / 12))).isoformat(),
        }
    specs = folder / "specs"
    specs.mkdir()
    (specs / f"{SPEC_NAME}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    progress(f"source: {flights.height:,} rows of {source} through {end}")
    return {"MLOPS_SPECS_PATH": str(specs), "MLOPS_BUILTIN_SPECS": "0"}


def _kind(entry: Any) -> str:
    """The Dagster event type of an event-log entry (LOG_MESSAGE for plain log lines)."""
    event = entry.dagster_event
    return event.event_type_value if event is not None else "LOG_MESSAGE"


def _burst_seconds(logs: list[Any], kind: str) -> float:
    """Time spent writing back-to-back events of one kind: each gap that follows one of them.

    The gap before the first event of a burst is left out (it holds other work,
    such as the Delta write before a step's materializations), so this is a lower bound.
    """
    return sum(
        current.timestamp - previous.timestamp
        for previous, current in pairwise(logs)
        if _kind(previous) == kind and _kind(current) == kind
    )


def platform_events(logs: list[Any]) -> dict[str, Any]:
    """Step windows, where each step's time went, and event counts from a run's event log."""
    from dagster import DagsterEventType

    counts = Counter(_kind(entry) for entry in logs)
    run_start = next(
        (e.timestamp for e in logs if _kind(e) == DagsterEventType.RUN_START.value), None
    )
    windows: dict[str, tuple[float, float]] = {}
    phases: dict[str, dict[str, float]] = {}
    for step, stage in STEP_STAGES.items():
        step_logs = [
            e for e in logs if e.step_key == step and _kind(e) != "ASSET_MATERIALIZATION_PLANNED"
        ]
        marks = {_kind(e): e.timestamp for e in reversed(step_logs)}
        if "STEP_START" not in marks or "STEP_SUCCESS" not in marks:
            raise RuntimeError(f"step {step} has no STEP_START/STEP_SUCCESS pair in the event log")
        start, end = marks["STEP_START"], marks["STEP_SUCCESS"]
        compute = marks.get("STEP_OUTPUT", end) - start
        events = _burst_seconds(step_logs, "ASSET_MATERIALIZATION")
        windows[stage] = (start, end)
        phases[stage] = {
            "compute_s": compute,
            "materialization_events_s": events,
            "other_s": (end - start) - compute - events,
            "materializations": sum(_kind(e) == "ASSET_MATERIALIZATION" for e in step_logs),
        }
    return {
        "windows": windows,
        "phases": phases,
        "counts": dict(counts.most_common()),
        "run_start": run_start,
        "planned_events_s": _burst_seconds(logs, "ASSET_MATERIALIZATION_PLANNED"),
        "planned_by_asset": dict(
            Counter(
                e.dagster_event.asset_key.to_user_string()
                for e in logs
                if _kind(e) == "ASSET_MATERIALIZATION_PLANNED"
            )
        ),
    }


def _timed(function: Callable[..., Any], spans: list[float]) -> Callable[..., Any]:
    """`function`, unchanged, but appending each call's wall seconds to `spans`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            spans.append(time.time() - start)

    return wrapper


def time_model_step() -> dict[str, list[float]]:
    """Time the calls that split the model step into LightGBM and MLflow; behaviour is unchanged."""
    import mlops_assets.assets.model as model_asset
    from resources.mlflow_tracking import MlflowTracking

    spans: dict[str, list[float]] = {}
    for owner, name in (
        (model_asset, "train_booster"),
        (MlflowTracking, "client"),
        (model_asset, "log_and_register"),
    ):
        setattr(owner, name, _timed(getattr(owner, name), spans.setdefault(name, [])))
    return spans


def run_platform() -> dict[str, Any]:
    """`run_spec("flights")` in-process against a fresh Dagster home; timings from its event log."""
    home = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_ROOT", "MLOPS_DATA_ROOT"):
        os.environ.pop(name, None)
    os.environ.setdefault("GIT_COMMIT", "benchmark")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    try:
        started = time.time()
        import dagster as dg

        from mlops_assets.cli import run_spec
        from mlops_assets.spec_job import spec_job

        spec_job(SPEC_NAME)  # what `mlops run` loads: the spec's assets and resources

        imports_s = time.time() - started
        model_calls = time_model_step()
        progress(f"platform: run_spec({SPEC_NAME!r}) in DAGSTER_HOME={home}")
        with RssSampler() as rss:
            run_start = time.time()
            summary = run_spec(SPEC_NAME)
            run_end = time.time()
        if not summary["success"]:
            raise RuntimeError(f"platform run failed: {summary.get('error')}")
        progress("platform: reading the run's event log")
        instance = dg.DagsterInstance.get()
        try:
            logs = [entry for run_id in summary["run_ids"] for entry in instance.all_logs(run_id)]
            events = platform_events(logs)
        finally:
            instance.dispose()
        steps_s = sum(end - start for start, end in events["windows"].values())
        return {
            "stages": stage_table(events["windows"], rss),
            "imports_s": imports_s,
            "after_imports_mb": rss.samples[0][1] / MB,
            "run_s": run_end - run_start,
            "run_peak_mb": rss.peak_mb(run_start, run_end),
            "peak_mb": _status_kb("VmHWM") / 1024,
            "roc_auc": summary["metrics"]["roc_auc"],
            "rows": {"raw": summary["rows_ingested"], "rejected": summary["rows_rejected"]},
            "outside_steps_s": (run_end - run_start) - steps_s,
            "before_run_start_s": (events["run_start"] or run_start) - run_start,
            "planned_events_s": events["planned_events_s"],
            "planned_by_asset": events["planned_by_asset"],
            "phases": events["phases"],
            "model_step_calls": {
                name: {"calls": len(spans), "seconds": sum(spans)}
                for name, spans in model_calls.items()
            },
            "event_counts": events["counts"],
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_child(mode: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one mode in a fresh interpreter; its own wall time includes startup and imports."""
    with tempfile.NamedTemporaryFile(prefix=f"bench-{mode}-", suffix=".json") as out:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            mode,
            "--out",
            out.name,
        ]
        started = time.time()
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert child.stdout is not None
        tail: list[str] = []
        for line in child.stdout:
            if line.startswith(("[bench", "[mlops")):
                sys.stderr.write(line)
            tail = [*tail[-59:], line]
        code = child.wait()
        process_s = time.time() - started
        if code != 0:
            sys.stderr.writelines(tail)
            raise SystemExit(f"{mode} run failed with exit code {code}")
        result = json.loads(Path(out.name).read_text())
    result["process_s"] = process_s
    return result


def median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every number over repeats; other values from the first run."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values if k in v]) for k in first}
        if isinstance(first, int | float) and not isinstance(first, bool):
            return statistics.median(values)
        return first

    return merge(runs)


def machine() -> dict[str, str]:
    """Where the numbers were measured."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        ram_kb = next(int(line.split()[1]) for line in info if line.startswith("MemTotal:"))
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram": f"{ram_kb / 1024 / 1024:.1f} GiB",
        "python": pyplatform.python_version(),
        "polars": metadata.version("polars"),
        "lightgbm": metadata.version("lightgbm"),
        "dagster": metadata.version("dagster"),
        "load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def _ratio(floor: float, platform: float) -> str:
    """How many times longer the platform took."""
    return f"{platform / floor:.1f}x" if floor > 0 else "-"


def render(results: dict[str, dict[str, Any]], repeat: int, host: dict[str, str]) -> str:
    """The markdown report: stage table, accuracy, event counts and machine."""
    floor, plat = results["floor"], results["platform"]
    lines = [
        "| stage | floor s | platform s | ratio | floor peak MB | platform peak MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in STAGES:
        f, p = floor["stages"][name], plat["stages"][name]
        lines.append(
            f"| {name} | {f['seconds']:.2f} | {p['seconds']:.2f} | "
            f"{_ratio(f['seconds'], p['seconds'])} | {f['peak_mb']:.0f} | {p['peak_mb']:.0f} |"
        )
    f_steps = sum(s["seconds"] for s in floor["stages"].values())
    p_steps = sum(s["seconds"] for s in plat["stages"].values())
    lines += [
        f"| **sum of stages** | {f_steps:.2f} | {p_steps:.2f} | {_ratio(f_steps, p_steps)} | | |",
        f"| **total (run)** | {floor['run_s']:.2f} | {plat['run_s']:.2f} | "
        f"{_ratio(floor['run_s'], plat['run_s'])} | {floor['run_peak_mb']:.0f} | "
        f"{plat['run_peak_mb']:.0f} |",
        f"| imports (RSS after) | {floor['imports_s']:.2f} | {plat['imports_s']:.2f} | "
        f"{_ratio(floor['imports_s'], plat['imports_s'])} | {floor['after_imports_mb']:.0f} | "
        f"{plat['after_imports_mb']:.0f} |",
        f"| **total (process)** | {floor['process_s']:.2f} | {plat['process_s']:.2f} | "
        f"{_ratio(floor['process_s'], plat['process_s'])} | {floor['peak_mb']:.0f} | "
        f"{plat['peak_mb']:.0f} |",
    ]
    counts = plat["event_counts"]
    phases = plat["phases"]
    materializing = {name: p for name, p in phases.items() if p["materializations"] > 1}
    mat_s = sum(p["materialization_events_s"] for p in phases.values())
    planned = counts.get("ASSET_MATERIALIZATION_PLANNED", 0)
    per_asset = plat["planned_by_asset"]
    planned_split = (
        f"{int(next(iter(per_asset.values())))} for each of {len(per_asset)} asset keys"
        if len(set(per_asset.values())) == 1
        else ", ".join(f"{key} {int(n)}" for key, n in per_asset.items())
    )
    mats = counts.get("ASSET_MATERIALIZATION", 0)
    lines += [
        "",
        f"{'Median of ' + str(repeat) + ' runs' if repeat > 1 else 'One run'} per mode, "
        f"each in a fresh process; {floor['rows']['raw']} rows ingested, "
        f"{floor['rows']['rejected']} rejected, {floor['rows']['test']} test rows.",
        f"ROC AUC on the test window: floor {floor['roc_auc']:.4f}, "
        f"platform {plat['roc_auc']:.4f}.",
        "",
        f"Platform event log: {int(sum(counts.values()))} events ("
        + ", ".join(f"{kind} {int(n)}" for kind, n in counts.items())
        + ").",
        f"Platform time outside its steps: {plat['outside_steps_s']:.1f} s, of which "
        f"{plat['before_run_start_s']:.1f} s before RUN_START (run creation), "
        f"{plat['planned_events_s']:.1f} s of it storing {int(planned)} "
        f"ASSET_MATERIALIZATION_PLANNED events ({planned_split}"
        + (f", {1000 * plat['planned_events_s'] / planned:.1f} ms each)." if planned else ")."),
        f"Inside its steps: {mat_s:.1f} s storing {int(mats)} ASSET_MATERIALIZATION events ("
        + ", ".join(
            f"{name} {p['materialization_events_s']:.1f} s for {int(p['materializations'])}"
            for name, p in materializing.items()
        )
        + "); step compute until the first output: "
        + ", ".join(f"{name} {p['compute_s']:.1f} s" for name, p in phases.items())
        + ".",
        "Timed calls: "
        + ", ".join(
            f"{name} {call['seconds']:.1f} s ({int(call['calls'])} call"
            f"{'' if call['calls'] == 1 else 's'})"
            for name, call in plat["model_step_calls"].items()
        )
        + " (the LightGBM fit; MLflow clients, the first of which creates and migrates "
        "MLflow's SQLite store; MLflow logging and registration of the model).",
        "",
        "Machine: "
        + ", ".join(f"{key} {value}" for key, value in host.items() if key != "cpu")
        + f"; CPU {host['cpu']}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run each mode in fresh subprocesses and print the report (or, with --child, one mode)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode; report the median")
    parser.add_argument("--json", type=Path, help="also save the raw numbers here")
    parser.add_argument("--months", type=int, default=12, choices=range(1, 13), metavar="1..12")
    parser.add_argument("--replicate", type=int, default=1, help="copies of every flight")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = run_floor() if args.child == "floor" else run_platform()
        args.out.write_text(json.dumps(result))
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    host = machine()
    host["data"] = f"{args.months} month(s) x {args.replicate}"
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-source-") as folder:
        env = prepare_source(args.months, args.replicate, Path(folder))
        for index in range(args.repeat):
            for mode in MODES:
                progress(f"run {index + 1}/{args.repeat}: {mode} in a fresh process")
                runs[mode].append(run_child(mode, env))
                progress(f"{mode}: {runs[mode][-1]['process_s']:.1f} s")
    results = {mode: median_result(mode_runs) for mode, mode_runs in runs.items()}
    print(render(results, args.repeat, host))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"machine": host, "repeat": args.repeat, "median": results, "runs": runs}, indent=2
            )
        )
        progress(f"raw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
