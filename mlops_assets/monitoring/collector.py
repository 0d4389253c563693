"""A Prometheus collector that serves the last refreshed snapshot, so a scrape costs no store reads."""

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlops_assets.monitoring.metric_families import PREFIX, spec_families
from mlops_assets.monitoring.spec_state import SpecState

StateReader = Callable[[], tuple[list[SpecState], dict[str, str]]]
log = logging.getLogger("mlops.exporter")


class SnapshotCollector(Collector):
    """Holds the metric families of the latest refresh; `collect` only hands them out."""

    def __init__(self, read: StateReader, top_features: int = 5) -> None:
        self._read = read
        self._top_features = top_features
        self._lock = threading.Lock()
        self._families: list[Metric] = []
        self._spec_up: dict[str, bool] = {}
        self._refreshes = 0
        self._failed_refreshes = 0
        self._last_refresh: float | None = None
        self._last_duration: float | None = None

    def refresh(self) -> float:
        """Read every spec's state again and swap the snapshot in; returns the seconds it took.

        A failed refresh keeps the previous snapshot and is counted, so a store
        outage shows as stale values plus a rising error counter, not as a gap.
        """
        started = time.perf_counter()
        try:
            states, errors = self._read()
            families = spec_families(states, self._top_features)
        except Exception:
            log.exception("refresh failed; keeping the previous snapshot")
            with self._lock:
                self._refreshes += 1
                self._failed_refreshes += 1
            return time.perf_counter() - started
        for spec, error in errors.items():
            log.warning("spec %s could not be read: %s", spec, error)
        duration = time.perf_counter() - started
        with self._lock:
            self._families = families
            self._spec_up = {state.spec: True for state in states} | dict.fromkeys(errors, False)
            self._refreshes += 1
            self._failed_refreshes += bool(errors)
            self._last_refresh = time.time()
            self._last_duration = duration
        return duration

    def collect(self):
        with self._lock:
            families = list(self._families)
            spec_up = dict(self._spec_up)
            refreshes, failed = self._refreshes, self._failed_refreshes
            last_refresh, last_duration = self._last_refresh, self._last_duration
        yield from families
        yield from self._own_families(spec_up, refreshes, failed, last_refresh, last_duration)

    @staticmethod
    def _own_families(
        spec_up: dict[str, bool],
        refreshes: int,
        failed: int,
        last_refresh: float | None,
        last_duration: float | None,
    ) -> list[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_exporter_spec_up",
            "1 when the spec's state was read in the latest refresh, 0 when reading it failed.",
            labels=["spec"],
        )
        for spec, ok in sorted(spec_up.items()):
            up.add_metric([spec], float(ok))
        total = CounterMetricFamily(
            f"{PREFIX}_exporter_refreshes", "Refreshes of the exporter's snapshot."
        )
        total.add_metric([], refreshes)
        errors = CounterMetricFamily(
            f"{PREFIX}_exporter_refresh_errors",
            "Refreshes in which the stores or a spec could not be read.",
        )
        errors.add_metric([], failed)
        families: list[Metric] = [up, total, errors]
        if last_refresh is not None and last_duration is not None:
            families.append(
                GaugeMetricFamily(
                    f"{PREFIX}_exporter_last_refresh_timestamp_seconds",
                    "Unix time of the latest successful refresh.",
                    value=last_refresh,
                )
            )
            families.append(
                GaugeMetricFamily(
                    f"{PREFIX}_exporter_refresh_duration_seconds",
                    "Seconds the latest successful refresh took (reading the instance and the registry).",
                    value=last_duration,
                )
            )
        return families
