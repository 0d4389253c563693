"""`mlops serve`: one spec's champion over HTTP, from the environment the platform uses.

Only what serving needs is loaded: the spec, the schema of its raw table, the
champion from the MLflow registry (`MLFLOW_TRACKING_URI`, default the SQLite
store in `DAGSTER_HOME`) and the Delta root for the inference log
(`MLOPS_DATA_ROOT`, default `DAGSTER_HOME/tables`); never the Dagster code location.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
from collections.abc import Mapping

import dagster as dg
import polars as pl
import uvicorn

from mlops_assets.online.app import build_app
from mlops_assets.online.inference_log import (
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_SECONDS,
    InferenceLogWriter,
    landing_table,
)
from mlops_assets.online.metrics import ServingMetrics
from mlops_assets.online.model_holder import DEFAULT_POLL_SECONDS, ModelHolder
from mlops_assets.online.preparation import ONLINE_ROW, RowPreparer
from mlops_assets.online.request_schema import batch_raw_schema, request_schema
from mlops_assets.online.service import OnlineService
from mlops_assets.online.validation import REQUEST
from mlops_assets.specs.model import DatasetSpec
from resources.delta_store import delta_store_from_environment
from resources.mlflow_tracking import MlflowTracking, default_tracking_uri

DEFAULT_PORT = 8000


def build_service(
    spec: DatasetSpec,
    raw_table: dg.AssetKey,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    log_max_rows: int = DEFAULT_MAX_ROWS,
    log_max_seconds: float = DEFAULT_MAX_SECONDS,
    env: Mapping[str, str] = os.environ,
) -> OnlineService:
    """The service of `spec`, whose raw batches are the table of asset `raw_table`."""
    delta = delta_store_from_environment(env)
    pii_key = env.get("MLOPS_PII_KEY", "").encode() or None
    schema = request_schema(spec, batch_raw_schema(spec, delta, raw_table, pii_key))
    metrics = ServingMetrics(spec.name, spec.model_name)
    client = MlflowTracking(mlflow_tracking_uri=default_tracking_uri()).client()
    return OnlineService(
        schema,
        RowPreparer(schema, pii_key),
        ModelHolder(client, spec.model_name, metrics, poll_seconds),
        InferenceLogWriter(
            delta,
            landing_table(spec.name),
            metrics,
            log_max_rows,
            log_max_seconds,
            drop=(REQUEST, ONLINE_ROW),
        ),
        metrics,
    )


def uvicorn_server(service: OnlineService, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the service (uvloop and httptools when installed)."""
    config = uvicorn.Config(
        build_app(service),
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    return uvicorn.Server(config)


def run_server(service: OnlineService, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; the inference log's last rows are appended on the way out.

    uvicorn shuts down gracefully on the first signal, then raises it again under the handler
    that was there before; with these no-op handlers the process then exits 0, not by the signal.
    """
    logging.basicConfig(level=logging.INFO, format="[mlops serve %(asctime)s] %(message)s")
    # The imports leave some 400,000 objects that live as long as the process; one full garbage
    # collection of them takes about 0.3 s, during which no request is answered. Frozen, they
    # are never traversed again.
    gc.freeze()
    logging.getLogger("mlops.serve").info(
        "scoring %s on %d polars thread(s); %d startup objects frozen out of garbage collection",
        service.spec.name,
        pl.thread_pool_size(),
        gc.get_freeze_count(),
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    uvicorn_server(service, host, port).run()
