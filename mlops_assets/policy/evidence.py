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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import polars as pl

from mlops_assets.drift import DriftSettings, ReferenceProfile, column_drift, dataset_drift
from mlops_assets.drift import prediction_drift as score_drift
from mlops_assets.evaluation import primary_metric
from mlops_assets.ingest.raw_batch import GRAIN_EVERY
from mlops_assets.policy.comparison import Scorer
from mlops_assets.policy.retraining import Expectations, WindowEvidence
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import window_column

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
    usual_severity: Mapping[str, float] = field(default_factory=dict)

    def expecting(self, expected: Expectations) -> ChampionView:
        """The same view, judging drift against the usual severities of `expected`."""
        return replace(self, usual_severity=dict(expected.usual_severity))

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
    unusual = [
        row["column"]
        for row in report.filter(pl.col("drifted")).iter_rows(named=True)
        if row["severity"] > view.usual_severity.get(row["column"], -math.inf)
    ]
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
        unusual_share=len(unusual) / report.height if report.height else 0.0,
        unusual_features=tuple(unusual),
    )
    return WindowMeasurement(
        evidence, frame.height, unseen.height, len(labels), report, prediction, realized
    )


Window = tuple[dt.datetime, dt.datetime, pl.DataFrame]


def windows_of(
    frame: pl.DataFrame, grain: str | None, now: dt.datetime | None = None
) -> list[Window]:
    """A table's monitoring windows, oldest first: one per partition of `grain`, or (without
    time) the whole table as one window timed `now` (UTC)."""
    window = window_column(frame)
    if grain is None or window is None:
        moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        return [(moment, moment, frame)] if frame.height else []
    windows = []
    for (day,), rows in sorted(frame.partition_by(window, as_dict=True).items()):
        start = dt.datetime.combine(day, dt.time())
        end = pl.select(pl.lit(start).dt.offset_by(GRAIN_EVERY[grain])).item()
        windows.append((start, end, rows))
    return windows


def expectations_of(
    view: ChampionView, test_windows: list[Window], scores: ScoreFunction
) -> Expectations:
    """The yardstick for monitoring: the champion's own test windows, measured as monitoring will."""
    plain = replace(view, usual_severity={})
    measured = [
        measure_window(plain, start, end, rows, scores) for start, end, rows in test_windows
    ]
    severities: dict[str, list[float]] = {}
    for measurement in measured:
        for row in measurement.report.iter_rows(named=True):
            severities.setdefault(row["column"], []).append(float(row["severity"]))
    metrics = [m.realized for m in measured if m.realized is not None]
    return Expectations.from_windows(metrics, severities)


def champion_view(
    spec: DatasetSpec, model: Scorer, scope: TrainingScope, training_rows: pl.DataFrame
) -> ChampionView:
    """How monitoring looks at one model: its scope, and its train rows as the drift reference.

    `training_rows` are the train split it learnt from, sampled with `reference_sample`.
    """
    settings = DriftSettings.from_spec(spec)
    task = spec.target.task
    return ChampionView(
        task=task,
        target=spec.target.column,
        encoding=model.encoding,
        scope=scope,
        reference=ReferenceProfile(training_rows, model.encoding.features, settings),
        reference_scores=drift_scores(task, model.predict(training_rows)),
        settings=settings,
        threshold=spec.quality.decision_threshold,
        min_labelled_rows=spec.retraining.min_labelled_rows,
    )
