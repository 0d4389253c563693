"""First-run benchmark: minutes from `make run` on a fresh Dagster home to the demo's evaluation.

What a newcomer waits for: `make run` starts the platform, the bootstrap sensor launches the
demo's first run, and the run ingests, trains and evaluates the flights model. Each case
starts `make run` on free ports with an empty temporary `DAGSTER_HOME`, reads that home's
instance every few seconds until `flights/evaluation` has a materialization (or the run has
failed for good), then stops it with Ctrl+C (SIGINT to its process group).

`--burners N` runs N busy-looping processes for the whole case, so both cores of a 2-core
machine are taken by something else (a shared laptop or CI host). Cases: quiet (0) and the
given burner count. The result is one markdown table on stdout; progress goes to stderr.

Run from the project root: `.venv/bin/python benchmarks/first_run.py [--burners 2] [--limit-minutes 30]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 5.0


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def burn() -> None:
    """Keep one core busy until killed."""
    while True:
        pass


def evaluation_state(home: Path) -> tuple[bool, int, list[str]]:
    """Whether flights/evaluation is materialized, how many runs failed, and every run's status."""
    script = (
        "import dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "done = i.get_latest_materialization_event(dg.AssetKey(['flights', 'evaluation']))\n"
        "runs = i.get_runs()\n"
        "print(int(done is not None))\n"
        "print(' '.join(r.status.value for r in runs))\n"
        "i.dispose()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:  # the storage is still being created
        return False, 0, []
    lines = done.stdout.splitlines()
    statuses = lines[1].split() if len(lines) > 1 else []
    return lines[0] == "1", statuses.count("FAILURE"), statuses


def one_case(burners: int, limit_minutes: float) -> dict[str, object]:
    """Start `make run` with `burners` busy processes; minutes until the evaluation exists."""
    home = Path(tempfile.mkdtemp(prefix="bench-first-run-"))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PORT": str(free_port()),
        "EXPORTER_PORT": str(free_port()),
        "MLFLOW_PORT": str(free_port()),
        "GIT_PYTHON_REFRESH": "quiet",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_DATA_ROOT", "MLOPS_SPECS_PATH"):
        env.pop(name, None)
    burning = [multiprocessing.Process(target=burn, daemon=True) for _ in range(burners)]
    for process in burning:
        process.start()
    log = (home.parent / f"{home.name}.log").open("w")
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    result: dict[str, object] = {"burners": burners, "minutes": None, "failed_runs": 0}
    try:
        while time.monotonic() - started < limit_minutes * 60:
            if make.poll() is not None:
                result["error"] = f"make run exited with {make.returncode}"
                break
            done, failures, statuses = evaluation_state(home)
            result["failed_runs"], result["runs"] = failures, statuses
            if done:
                result["minutes"] = (time.monotonic() - started) / 60
                break
            time.sleep(POLL_SECONDS)
        else:
            result["error"] = f"no evaluation within {limit_minutes} minutes"
    finally:
        stopping = time.monotonic()
        try:
            os.killpg(make.pid, signal.SIGINT)
            make.wait(timeout=60)
        except ProcessLookupError:  # make run already ended (its error is in the result)
            pass
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        result["stop_seconds"] = time.monotonic() - stopping
        result["log_tail"] = (home.parent / f"{home.name}.log").read_text().splitlines()[-3:]
        for process in burning:
            process.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
    progress(f"burners {burners}: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the quiet case and the loaded case, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--limit-minutes", type=float, default=30.0)
    parser.add_argument("--loaded-only", action="store_true", help="skip the quiet case")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    cases = (args.burners,) if args.loaded_only else (0, args.burners)
    rows = [one_case(n, args.limit_minutes) for n in cases]
    print("| case | minutes to flights/evaluation | failed runs on the way | Ctrl+C to exit (s) |")
    print("|---|---:|---:|---:|")
    for row in rows:
        minutes = row["minutes"]
        shown = f"{minutes:.1f}" if isinstance(minutes, float) else f"- ({row.get('error')})"
        case = "quiet" if row["burners"] == 0 else f"{row['burners']} CPU burners"
        print(f"| {case} | {shown} | {row['failed_runs']} | {row['stop_seconds']:.1f} |")
    print(f"\nMachine: nproc {os.cpu_count()}, load average at start {load}.")
    return 0 if all(isinstance(r["minutes"], float) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
