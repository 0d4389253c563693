"""Scoring a batch with a registered model, and describing what came out.

Scores come from the version's booster on its encoded matrix (`LoadedModel`).
Latency is measured per mini-batch, as a caller of the model would see it, so
p50 and p95 describe serving cost; the distribution of scores is what
prediction-drift monitoring compares over time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlops_assets.serving.registered import LoadedModel

BATCH_ROWS = 100_000  # large enough that LightGBM's per-call cost is lost in the work


@dataclass
class ScoredBatch:
    scores: np.ndarray
    latencies_ms: list[float]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return len(self.scores) / self.seconds if self.seconds > 0 else float("nan")

    def latency_quantile(self, q: float) -> float:
        return float(np.quantile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def score_frame(
    model: LoadedModel, frame: pl.DataFrame, batch_rows: int = BATCH_ROWS
) -> ScoredBatch:
    """Scores of every row, in mini-batches so that latency reads as a caller would see it."""
    scores = []
    latencies = []
    started = time.perf_counter()
    for offset in range(0, frame.height, batch_rows):
        batch = frame.slice(offset, batch_rows)
        tick = time.perf_counter()
        scores.append(model.predict(batch))
        latencies.append((time.perf_counter() - tick) * 1000)
    seconds = time.perf_counter() - started
    stacked = np.concatenate(scores) if scores else model.predict(frame)
    return ScoredBatch(stacked, latencies, seconds)


def score_distribution(task: str, scores: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Quantiles of scores (binary, regression) or class shares (multiclass)."""
    if len(scores) == 0:
        return {}
    if task == "multiclass":
        predicted = np.asarray(scores).argmax(axis=1)
        return {f"share_{c}": float(np.mean(predicted == i)) for i, c in enumerate(classes)}
    values = np.asarray(scores, dtype=float)
    summary = {
        f"p{int(q * 100):02d}": float(np.quantile(values, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)
    }
    summary["mean"] = float(values.mean())
    return summary


PROBABILITY_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 11))
REGRESSION_BUCKETS = 10


def score_histogram(task: str, scores: np.ndarray) -> dict:
    """Row counts per score bucket, for a Prometheus histogram of the prediction distribution.

    Binary: the positive-class probability in fixed 0.1-wide buckets. Multiclass: the
    probability of the predicted class (the model's confidence), same buckets.
    Regression: ten equal-width buckets between this batch's smallest and largest
    prediction (the edges move with the batch). Counts are per bucket, not cumulative.
    """
    values = np.asarray(scores, dtype=float)
    if task == "multiclass" and values.ndim == 2:
        values = values.max(axis=1) if len(values) else np.empty(0)
    values = values[np.isfinite(values)]
    if task == "regression":
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        edges = list(np.linspace(low, high if high > low else low + 1.0, REGRESSION_BUCKETS + 1))
        bounds = [float(e) for e in edges[1:]]
    else:
        bounds = list(PROBABILITY_BUCKETS)
    positions = np.searchsorted(np.asarray(bounds), values, side="left")
    counts = np.bincount(np.minimum(positions, len(bounds) - 1), minlength=len(bounds))
    return {
        "upper_bounds": bounds,
        "counts": [int(c) for c in counts],
        "sum": float(values.sum()),
    }
