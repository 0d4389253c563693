"""Measuring one window for the retraining policy, on the rows the champion never saw.

The drift asset and the policy backtest both measure a window here: feature drift
against the champion's training rows, drift of the champion's scores, and, once
labels exist, the realized primary metric. Rows the champion trained on are left
out first, so its own training rows never flatter it; a window with no other row
is reported as not monitored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from mlops_assets.drift import DriftSettings, ReferenceProfile, column_drift, dataset_drift
from mlops_assets.drift import prediction_drift as score_drift
from mlops_assets.evaluation import primary_metric
from mlops_assets.policy.retraining import WindowEvidence
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.scope import TrainingScope

Status = Literal["trained_on", "awaiting_labels", "measured"]
ScoreFunction = Callable[[pl.DataFrame], np.ndarray]


def drift_scores(task: str, scores: np.ndarray) -> np.ndarray:
    """The one number per row whose distribution prediction drift compares (the class for multiclass)."""
    values = np.asarray(scores, dtype=float)
    if task == "multiclass":
        return values.argmax(axis=1).astype(float) if len(values) else np.empty(0)
    return values


@dataclass(frozen=True, eq=False)
class ChampionView:
    """What stays fixed while one champion's windows are measured."""

    task: str
    target: str
    encoding: FeatureEncoding
    scope: TrainingScope
    reference: ReferenceProfile
    reference_scores: np.ndarray
    settings: DriftSettings
    threshold: float
    min_labelled_rows: int

    @property
    def n_classes(self) -> int | None:
        return len(self.encoding.classes) or None

    def labelled(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """A mask of the rows whose label the model can be judged on, and those labels."""
        if self.target not in frame.columns or frame.height == 0:
            return np.zeros(frame.height, dtype=bool), np.empty(0)
        mask = frame[self.target].is_not_null().to_numpy()
        labels = self.encoding.labels(frame.filter(pl.Series(mask)), self.target)
        if self.task == "multiclass":
            known = labels >= 0
            positions = np.flatnonzero(mask)
            mask = np.zeros(frame.height, dtype=bool)
            mask[positions[known]] = True
            labels = labels[known]
        return mask, labels


@dataclass(frozen=True, eq=False)
class WindowMeasurement:
    """One window as monitoring saw it."""

    evidence: WindowEvidence
    rows: int
    unseen_rows: int
    labelled_rows: int
    report: pl.DataFrame
    prediction: dict | None
    realized: float | None

    @property
    def status(self) -> Status:
        if not self.evidence.monitored:
            return "trained_on"
        return "measured" if self.realized is not None else "awaiting_labels"


def measure_window(
    view: ChampionView,
    start: dt.datetime,
    end: dt.datetime,
    frame: pl.DataFrame,
    scores: ScoreFunction,
) -> WindowMeasurement:
    """Drift, prediction drift and realized metric of `frame` on the rows the champion never saw.

    `scores` gives the champion's scores of the rows it is handed (stored
    predictions or a fresh scoring): the same rows, in the same order.
    """
    unseen = view.scope.unseen(frame)
    if unseen.height == 0:
        evidence = WindowEvidence(start, end, monitored=False)
        return WindowMeasurement(evidence, frame.height, 0, 0, pl.DataFrame(), None, None)
    encoding = view.encoding
    report = column_drift(
        view.reference, unseen, encoding.features, encoding.categorical, view.settings
    )
    share, drifted = dataset_drift(report, view.settings)
    unseen_scores = np.asarray(scores(unseen), dtype=float)
    prediction = score_drift(
        view.reference_scores, drift_scores(view.task, unseen_scores), view.settings
    )
    mask, labels = view.labelled(unseen)
    realized = None
    if len(labels) >= view.min_labelled_rows:
        value = primary_metric(
            view.task,
            labels,
            unseen_scores[mask],
            threshold=view.threshold,
            n_classes=view.n_classes,
        )
        realized = None if math.isnan(value) else value
    evidence = WindowEvidence(
        start,
        end,
        monitored=True,
        drift_share=share,
        dataset_drift=drifted,
        realized_metric=realized,
        drifted_features=tuple(report.filter(pl.col("drifted"))["column"].to_list()),
    )
    return WindowMeasurement(
        evidence, frame.height, unseen.height, len(labels), report, prediction, realized
    )
