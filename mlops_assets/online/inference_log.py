"""The inference log: every scored request row, appended in batches to a Delta landing table.

A log row is the row's features exactly as the `features` asset holds them
(event time, partition, ids, the label when the request carried it, every
candidate feature; personal data dropped or hashed before any of it), plus what
the model said (`prediction` as in the `predictions` asset, and `predicted_label`
for binary models or `score_<class>` for multiclass ones), the model version and
the request: its id, the row's position in it, when it arrived, how long its
answer took and the endpoint. Rows are appended off the request path, as one
Delta commit whenever the oldest has waited `max_seconds` or `max_rows` wait, and
once more on shutdown. The `inference_log` asset materializes the landing table window by
window (docs/serving.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION
from mlops_assets.online.metrics import ServingMetrics
from mlops_assets.online.served_model import ServedModel
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
DEFAULT_MAX_ROWS = 50_000
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


def prediction_columns(model: ServedModel, scores: np.ndarray) -> list[pl.Series]:
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


@dataclass(frozen=True)
class ScoredRows:
    """One scored batch as the service hands it over: the feature rows, their scores and the
    model, and per row its request (id, position, arrival, latency, endpoint)."""

    features: pl.DataFrame
    scores: np.ndarray
    model: ServedModel
    request_id: np.ndarray
    request_row: np.ndarray
    request_time: np.ndarray
    latency_seconds: np.ndarray
    endpoint: np.ndarray

    @property
    def height(self) -> int:
        return self.features.height


def log_rows(batches: list[ScoredRows], drop: list[str]) -> pl.DataFrame:
    """The log rows of scored batches of one model: one frame, columns named as documented
    above; `drop` names the service's own bookkeeping columns."""
    model = batches[0].model
    features = pl.concat([b.features for b in batches]).drop(drop, strict=False)
    scores = np.concatenate([b.scores for b in batches])

    def joined(field: str) -> np.ndarray:
        return np.concatenate([getattr(b, field) for b in batches])

    return features.with_columns(
        *prediction_columns(model, scores),
        pl.lit(model.version).alias(MODEL_VERSION),
        pl.Series(REQUEST_ID, joined(REQUEST_ID), dtype=pl.String),
        pl.Series(REQUEST_ROW, joined(REQUEST_ROW), dtype=pl.Int32),
        pl.Series(REQUEST_TIME, joined(REQUEST_TIME), dtype=pl.Datetime("us")),
        pl.Series(LATENCY_SECONDS, joined(LATENCY_SECONDS), dtype=pl.Float64),
        pl.Series(ENDPOINT, joined(ENDPOINT), dtype=pl.String),
    )


class InferenceLogWriter:
    """Appends log rows to the landing table from a thread of its own.

    The request path only queues each scored batch; the rows are built, counted (unseen
    categories, out-of-range values) and appended here, many batches at a time.
    """

    def __init__(
        self,
        delta: DeltaStore,
        table: dg.AssetKey,
        metrics: ServingMetrics,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        drop: tuple[str, ...] = (),
    ):
        self.delta = delta
        self.table = table
        self.metrics = metrics
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.drop = list(drop)
        self._queue: queue.SimpleQueue[ScoredRows | None] = queue.SimpleQueue()
        self._waiting: list[ScoredRows] = []
        self._built: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._oldest: float | None = None
        self._thread = threading.Thread(target=self._run, name="mlops-inference-log", daemon=True)

    def add(self, batch: ScoredRows) -> None:
        """Queue one scored batch (returns at once: the request path does not wait for the log)."""
        self._queue.put(batch)

    def _take(self, batch: ScoredRows) -> None:
        self._waiting.append(batch)
        self._pending_rows += batch.height
        self._oldest = self._oldest or time.monotonic()
        self.metrics.log_pending.labels(self.metrics.spec).set(self._pending_rows)

    def _build(self) -> None:
        """Turn the waiting batches into log rows, one frame per model, and count their values
        the serving model never saw or saw only inside a range."""
        by_model: dict[int, list[ScoredRows]] = {}
        for batch in self._waiting:
            by_model.setdefault(id(batch.model), []).append(batch)
        self._waiting = []
        spec = self.metrics.spec
        for batches in by_model.values():
            frame = log_rows(batches, self.drop)
            encoding = batches[0].model.encoding
            self.metrics.unseen.labels(spec).inc(sum(encoding.unseen_categories(frame).values()))
            self.metrics.out_of_range.labels(spec).inc(sum(encoding.out_of_range(frame).values()))
            self._built.append(frame)

    def flush(self) -> None:
        """Append everything waiting; on failure keep it for the next flush (up to a bound)."""
        if not self._waiting and not self._built:
            return
        try:
            self._build()
            frame = pl.concat(self._built, how="diagonal_relaxed")
            self.delta.append(self.table, frame)
        except Exception:
            self.metrics.log_flush_errors.labels(self.metrics.spec).inc()
            log.exception("could not append %d rows to the inference log", self._pending_rows)
            while self._pending_rows > MAX_PENDING_ROWS and self._built:
                dropped = self._built.pop(0)
                self._pending_rows -= dropped.height
                self.metrics.log_rows.labels(self.metrics.spec, "dropped").inc(dropped.height)
            return
        self.metrics.log_rows.labels(self.metrics.spec, "written").inc(frame.height)
        self._built, self._pending_rows, self._oldest = [], 0, None
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
