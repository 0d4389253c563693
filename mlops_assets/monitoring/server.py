"""The exporter process: read the stores once, serve `/metrics`, refresh in the background."""

import logging
import signal
import threading

import dagster as dg
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from mlops_assets.monitoring.collector import SnapshotCollector, StateReader
from mlops_assets.monitoring.refresh_loop import RefreshLoop
from mlops_assets.monitoring.state_reader import read_states
from mlops_assets.specs import load_specs
from resources.mlflow_tracking import MlflowTracking, default_tracking_uri

DEFAULT_INTERVAL_SECONDS = 15.0
DEFAULT_TOP_FEATURES = 5
DEFAULT_PARTITIONS_KEPT = 30
log = logging.getLogger("mlops.exporter")


def project_state_reader(partitions_kept: int = DEFAULT_PARTITIONS_KEPT) -> StateReader:
    """Reads the project's instance (`DAGSTER_HOME`) and MLflow registry; specs are reloaded each time."""
    instance = dg.DagsterInstance.get()
    client = MlflowTracking(mlflow_tracking_uri=default_tracking_uri()).client()

    def read():
        return read_states(instance, client, load_specs(), partitions_kept)

    return read


def exporter_registry(collector: SnapshotCollector) -> CollectorRegistry:
    """The exporter's registry: the spec snapshot plus the exporter's own process metrics
    (`process_*`: CPU seconds, resident memory, open file descriptors, start time) and the
    Python platform (`python_info`), so a leaking or stuck exporter shows on the dashboard."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def run_exporter(
    host: str,
    port: int,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    top_features: int = DEFAULT_TOP_FEATURES,
    partitions_kept: int = DEFAULT_PARTITIONS_KEPT,
    stop: threading.Event | None = None,
) -> None:
    """Serve the metrics of every spec on http://HOST:PORT/metrics until SIGINT/SIGTERM or `stop`."""
    logging.basicConfig(level=logging.INFO, format="[mlops exporter %(asctime)s] %(message)s")
    collector = SnapshotCollector(project_state_reader(partitions_kept), top_features)
    seconds = collector.refresh()
    registry = exporter_registry(collector)
    server, _ = start_http_server(port, addr=host, registry=registry)
    log.info(
        "serving http://%s:%s/metrics (first refresh %.2f s, every %g s)",
        host,
        port,
        seconds,
        interval,
    )
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    loop = RefreshLoop(collector, interval)
    loop.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        loop.stop()
        server.shutdown()
        server.server_close()
        log.info("stopped")
