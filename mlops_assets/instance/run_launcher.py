"""Dagster's default run launcher, plus the worker health check it lacks (see `run_workers`).

With `run_monitoring` enabled, the daemon asks the run launcher whether each
started run's worker is healthy; `DefaultRunLauncher` cannot say, so a killed
run stayed STARTED for ever. This launcher answers from the run worker's pid,
so the daemon marks such a run failed within one `poll_interval_seconds`, the
run queue and the concurrency pools move on, and run retries re-execute it.
It is for one machine, where the daemon and the run workers share a process
table: the embedded default `dagster.yaml`. Production uses `DockerRunLauncher`
or `K8sRunLauncher`, which check their containers themselves.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult

from mlops_assets.instance.run_workers import worker_health


class WatchedRunLauncher(dg.DefaultRunLauncher):
    """Launches runs on the code servers, like the default launcher, and reports dead workers."""

    runs_workers_locally = True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return worker_health(self._instance, run)
