"""Is a run's worker process still alive? A run whose process died must not hold its slots.

On one machine a run executes in a process of its own (a code server's
subprocess, or an `mlops run` process); its `RUN_START` event records that
process's pid. If the process is gone (killed, out of memory, the laptop shut)
while the run is still `STARTED`, nothing else will ever finish the run: it
keeps its place in the run queue, its `mlops/spec` tag slot and any concurrency
pool slot, and every later run of the spec waits behind it. `worker_health`
tells such a run apart (pid gone, or reused by a process started later);
`fail_dead_runs` fails them with the reason and frees their pool slots.
"""

from __future__ import annotations

import socket

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

RUN_HOST_TAG = "mlops/run_host"
PID_START_SLACK_SECONDS = 2.0


def this_host() -> str:
    return socket.gethostname()


def run_worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the process that started executing the run, and when it did."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_START, limit=1
    ).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return None
    entry = records[0].event_log_entry
    return entry.dagster_event.pid, entry.timestamp


def _alive(pid: int, started_at: float) -> bool:
    """Whether `pid` is a live process that existed when the run started (not a reused pid)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.create_time() <= started_at + PID_START_SLACK_SECONDS
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def worker_health(instance: dg.DagsterInstance, run: dg.DagsterRun) -> CheckRunHealthResult:
    """RUNNING while the run's worker process lives on this machine; FAILED once it is gone."""
    host = run.tags.get(RUN_HOST_TAG)
    if host and host != this_host():
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, f"run worker runs on {host}")
    worker = run_worker(instance, run.run_id)
    if worker is None:
        return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run has not started executing")
    pid, started_at = worker
    if _alive(pid, started_at):
        return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"the run worker process (pid {pid}) is gone: it was killed or crashed while the run was "
        "in progress",
        run_worker_id=str(pid),
    )


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every STARTED run of this machine whose worker process died, and free its pool slots.

    The daemon's run monitoring does this through `WatchedRunLauncher`; `mlops run`
    does it too before it starts, for machines where no daemon runs. Runs are this
    machine's when the instance launches them locally (`WatchedRunLauncher`) or when
    they carry this host's `mlops/run_host` tag; a container's run is never judged
    from the host's process table.
    """
    failed = []
    local_launcher = getattr(instance.run_launcher, "runs_workers_locally", False)
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for run in runs:
        if not local_launcher and run.tags.get(RUN_HOST_TAG) != this_host():
            continue
        health = worker_health(instance, run)
        if health.status != WorkerStatus.FAILED:
            continue
        instance.report_run_failed(run, f"{health.msg}; marked failed so later runs can proceed")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed
