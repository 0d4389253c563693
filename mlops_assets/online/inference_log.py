"""The inference log: every scored request row, appended in batches to a Delta landing table.

A log row is the row's features exactly as the `features` asset holds them
(event time, partition, ids, the label when the request carried it, every
candidate feature; personal data dropped or hashed before any of it), plus what
the model said (`prediction` as in the `predictions` asset, and `predicted_label`
for binary models or `score_<class>` for multiclass ones), the model version and
the request: its id, the row's position in it, when it arrived, how long its
answer took and the endpoint. Rows are appended off the request path, whenever
`max_rows` are waiting or the oldest has waited `max_seconds`, and once more on
shutdown. The `inference_log` asset materializes the landing table window by
window (docs/serving.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION
from mlops_assets.online.loaded_model import LoadedModel
from mlops_assets.online.metrics import ServingMetrics
from resources.delta_store import DeltaStore

PREDICTION = "prediction"
PREDICTED_LABEL = "predicted_label"
MODEL_VERSION = "model_version"
REQUEST_ID = "request_id"
REQUEST_ROW = "request_row"
REQUEST_TIME = "request_time"
LATENCY_SECONDS = "latency_seconds"
ENDPOINT = "endpoint"
LOG_COLUMNS = {
    PREDICTION: "The model's answer: P(positive label) (binary), the label (multiclass) or the value",
    PREDICTED_LABEL: "Binary models: 1 when the probability reaches the model's decision threshold",
    MODEL_VERSION: "Registered model version that answered the request",
    REQUEST_ID: "Id of the request (the Open Inference Protocol id when the client sent one)",
    REQUEST_ROW: "Position of the row in its request, from 0",
    REQUEST_TIME: "When the request arrived (UTC)",
    LATENCY_SECONDS: "Time from the request's arrival to its answer",
    ENDPOINT: "predict or infer (Open Inference Protocol)",
}
DEFAULT_MAX_ROWS = 1000
DEFAULT_MAX_SECONDS = 2.0
MAX_PENDING_ROWS = 500_000
log = logging.getLogger("mlops.serve")


def empty_log(timed: bool) -> pl.DataFrame:
    """The log of a window nothing was scored in (or before the first request): its own columns."""
    partition = {EVENT_TIME: pl.Datetime("us"), PARTITION: pl.Date} if timed else {}
    return pl.DataFrame(
        schema={
            **partition,
            MODEL_VERSION: pl.String,
            REQUEST_ID: pl.String,
            REQUEST_ROW: pl.Int32,
            REQUEST_TIME: pl.Datetime("us"),
            LATENCY_SECONDS: pl.Float64,
            ENDPOINT: pl.String,
        }
    )


def landing_table(spec_name: str) -> dg.AssetKey:
    """Where the service appends: `<Delta root>/<spec>/_landing/inference_log`."""
    return dg.AssetKey([spec_name, "_landing", "inference_log"])


def prediction_columns(model: LoadedModel, scores: np.ndarray) -> list[pl.Series]:
    """The model's answer as columns, named as in the `predictions` asset."""
    if model.task == "multiclass":
        matrix = np.asarray(scores).reshape(-1, len(model.classes))
        return [
            pl.Series(PREDICTION, model.labels(matrix), dtype=pl.String),
            *[pl.Series(f"score_{c}", matrix[:, i]) for i, c in enumerate(model.classes)],
        ]
    columns = [pl.Series(PREDICTION, scores, dtype=pl.Float64)]
    if model.task == "binary":
        columns.append(pl.Series(PREDICTED_LABEL, model.labels(scores), dtype=pl.Int8))
    return columns


@dataclass
class _Pending:
    rows: Callable[[], pl.DataFrame]
    model: LoadedModel


class InferenceLogWriter:
    """Appends log rows to the landing table from a thread of its own."""

    def __init__(
        self,
        delta: DeltaStore,
        table: dg.AssetKey,
        metrics: ServingMetrics,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
    ):
        self.delta = delta
        self.table = table
        self.metrics = metrics
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._oldest: float | None = None
        self._thread = threading.Thread(target=self._run, name="mlops-inference-log", daemon=True)

    def add(self, rows: Callable[[], pl.DataFrame], model: LoadedModel) -> None:
        """Queue the log rows of one scored batch, built later by this writer's thread by
        calling `rows` (returns at once: the request path does not wait for the log)."""
        self._queue.put(_Pending(rows, model))

    def _take(self, item: _Pending) -> None:
        frame = item.rows()
        self.metrics.unseen.labels(self.metrics.spec).inc(
            sum(item.model.encoding.unseen_categories(frame).values())
        )
        self.metrics.out_of_range.labels(self.metrics.spec).inc(
            sum(item.model.encoding.out_of_range(frame).values())
        )
        self._pending.append(frame)
        self._pending_rows += frame.height
        self._oldest = self._oldest or time.monotonic()
        self.metrics.log_pending.labels(self.metrics.spec).set(self._pending_rows)

    def flush(self) -> None:
        """Append everything waiting; on failure keep it for the next flush (up to a bound)."""
        if not self._pending:
            return
        try:
            frame = pl.concat(self._pending, how="diagonal_relaxed")
            self.delta.append(self.table, frame)
        except Exception:
            self.metrics.log_flush_errors.labels(self.metrics.spec).inc()
            log.exception("could not append %d rows to the inference log", self._pending_rows)
            while self._pending_rows > MAX_PENDING_ROWS and self._pending:
                dropped = self._pending.pop(0)
                self._pending_rows -= dropped.height
                self.metrics.log_rows.labels(self.metrics.spec, "dropped").inc(dropped.height)
            return
        self.metrics.log_rows.labels(self.metrics.spec, "written").inc(frame.height)
        self._pending, self._pending_rows, self._oldest = [], 0, None
        self.metrics.log_pending.labels(self.metrics.spec).set(0)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            waited = time.monotonic() - self._oldest if self._oldest else 0.0
            try:
                item = self._queue.get(timeout=max(0.05, self.max_seconds - waited))
                if item is None:
                    stopping = True
                else:
                    self._take(item)
            except queue.Empty:
                pass
            except Exception:
                self.metrics.log_flush_errors.labels(self.metrics.spec).inc()
                log.exception("could not build the inference log rows of a scored batch")
            due = self._oldest is not None and time.monotonic() - self._oldest >= self.max_seconds
            if stopping or due or self._pending_rows >= self.max_rows:
                self.flush()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Append what is still waiting, then stop."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=120)
