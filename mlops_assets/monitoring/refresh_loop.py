"""Refreshing the exporter's snapshot on an interval, in a background thread."""

import logging
import threading

from mlops_assets.monitoring.collector import SnapshotCollector

log = logging.getLogger("mlops.exporter")


class RefreshLoop:
    """Calls `collector.refresh()` every `interval` seconds until stopped."""

    def __init__(self, collector: SnapshotCollector, interval: float) -> None:
        self._collector = collector
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="mlops-exporter-refresh", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=self._interval + 30)

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            seconds = self._collector.refresh()
            log.debug("refreshed in %.3f s", seconds)
