"""What a spec change does to the model: features, metrics on the same rows, drift, the gate.

The two models are judged on the same rows: the change's test rows that the
base never trained on either (its training scope), and that the base also
kept (a row the base's rules rejected has no features there). Each model
scores its own feature rows of those rows, matched on `_review_row`, so a
feature that only one version builds is no obstacle. The verdict comes from
the production promotion gate, with the base model in the champion's role.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlops_assets.drift import DriftSettings, column_drift, dataset_drift
from mlops_assets.evaluation import PRIMARY_METRIC, task_metrics
from mlops_assets.policy.comparison import Scorer, compare_on_rows, shared_labels
from mlops_assets.policy.gate import Comparison, GateDecision, GateEvidence, judge
from mlops_assets.review.reviewed_model import ReviewedModel
from mlops_assets.review.sampling import REVIEW_ROW
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.scope import ScopeError
from mlops_assets.training.split import SPLIT


@dataclass(frozen=True, eq=False)
class OwnRows:
    """A reviewed model that scores a row from its own feature row of the same source row."""

    side: ReviewedModel

    @property
    def encoding(self) -> FeatureEncoding:
        return self.side.encoding

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        assert self.side.rows is not None
        own = frame.select(REVIEW_ROW).join(
            self.side.rows, on=REVIEW_ROW, how="left", maintain_order="left"
        )
        return self.side.predict(own)


def scorer(side: ReviewedModel) -> Scorer:
    """How a side scores rows of the change: from its own rows, or (a champion) as they are."""
    return OwnRows(side) if side.rows is not None else side


@dataclass(frozen=True)
class FeatureChanges:
    added: list[str]
    removed: list[str]
    kept: list[str]


def feature_changes(change: ReviewedModel, base: ReviewedModel) -> FeatureChanges:
    """The features the change's model uses that the base's does not, and the reverse."""
    before, after = base.features, change.features
    return FeatureChanges(
        added=[f for f in after if f not in before],
        removed=[f for f in before if f not in after],
        kept=[f for f in after if f in before],
    )


@dataclass(frozen=True)
class SharedRows:
    """The rows both models are judged on, how they were chosen, and why there are none."""

    rows: pl.DataFrame
    described: str
    note: str = ""


def shared_rows(change: ReviewedModel, base: ReviewedModel) -> SharedRows:
    """The change's test rows that the base never trained on and can score."""
    assert change.rows is not None
    test = change.rows.filter(pl.col(SPLIT) == "test")
    empty = test.head(0)
    try:
        unseen = base.scope.unseen(test)
    except ScopeError as error:
        return SharedRows(empty, "", f"the rows {base.label} trained on cannot be told: {error}")
    if base.rows is not None:
        unseen = unseen.join(base.rows.select(REVIEW_ROW), on=REVIEW_ROW, how="semi")
        kept = "only rows its own rules kept too"
    else:
        missing = [f for f in base.features if f not in test.columns]
        if missing:
            return SharedRows(
                empty,
                "",
                f"{base.label} uses feature(s) {', '.join(missing)} that the change no longer "
                "builds, so it cannot score the change's rows",
            )
        kept = "scored on the change's features"
    described = (
        f"the change's test split ({test.height:,} rows), less those {base.label} learnt from "
        f"({base.scope.describe()}), {kept}"
    )
    return SharedRows(unseen, described)


def metrics_on_rows(
    spec: DatasetSpec, change: ReviewedModel, base: ReviewedModel, shared: SharedRows
) -> tuple[Comparison | None, pl.DataFrame]:
    """The gate's comparison, and every metric of both models on the shared rows with the difference."""
    task, target = spec.target.task, spec.target.column
    if shared.rows.height == 0:
        return None, pl.DataFrame()
    scorers = [scorer(change), scorer(base)]
    comparison = compare_on_rows(task, target, *scorers, shared.rows, shared.described)
    rows, labels = shared_labels(task, target, shared.rows, scorers)
    same_classes = change.encoding.classes == base.encoding.classes
    if rows.height == 0 or (task == "multiclass" and not same_classes):
        return comparison, pl.DataFrame()
    n_classes = len(change.encoding.classes) or None
    measured = [
        task_metrics(
            task,
            labels,
            model.predict(rows),
            threshold=side.decision_threshold,
            n_classes=n_classes,
        )
        for model, side in zip(scorers, (change, base), strict=True)
    ]
    primary, _ = PRIMARY_METRIC[task]
    names = [primary, *(m for m in measured[0] if m != primary)]
    after, before = (np.array([m[name] for name in names], dtype=float) for m in measured)
    table = pl.DataFrame(
        {"metric": names, "base": before, "change": after, "difference": after - before}
    )
    return comparison, table


@dataclass(frozen=True)
class TrainingDrift:
    """The change's training window against the base's, column by column."""

    report: pl.DataFrame
    share: float
    dataset_drift: bool
    not_compared: list[str]


def training_window_drift(
    spec: DatasetSpec, change: ReviewedModel, base: ReviewedModel
) -> TrainingDrift:
    """Drift of each of the change's features between the base's train rows and the change's."""
    settings = DriftSettings.from_spec(spec)
    columns = [f for f in change.features if f in base.reference.columns]
    categorical = [c for c in change.encoding.categorical if c in columns]
    report = column_drift(base.reference, change.reference, columns, categorical, settings)
    share, drifted = dataset_drift(report, settings)
    not_compared = [f for f in change.features if f not in columns]
    return TrainingDrift(report, share, drifted, not_compared)


def gate_verdict(
    spec: DatasetSpec,
    change: ReviewedModel,
    base: ReviewedModel | None,
    comparison: Comparison | None,
) -> GateDecision:
    """The production gate on the change's model, with the base model as champion."""
    metric, _ = PRIMARY_METRIC[spec.target.task]
    return judge(
        GateEvidence(
            metric=metric,
            challenger_version=change.version,
            challenger_metric=change.test_metrics.get(metric, math.nan),
            baseline_metric=change.baseline_metrics.get(metric, math.nan),
            floor=spec.quality.min_test_metric,
            max_drop=spec.promotion.max_metric_drop,
            champion_version=None if base is None else base.version,
            comparison=comparison,
        )
    )
