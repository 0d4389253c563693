"""Two models judged on the same rows: the promotion gate's champion comparison.

Used by the promotion asset (registered versions) and the policy backtest
(in-memory boosters): anything with an `encoding` and a `predict(frame)`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import polars as pl

from mlops_assets.evaluation import primary_metric
from mlops_assets.policy.gate import Comparison
from mlops_assets.training.encoding import FeatureEncoding


class Scorer(Protocol):
    encoding: FeatureEncoding

    def predict(self, frame: pl.DataFrame) -> np.ndarray: ...


def shared_labels(
    task: str, target: str, rows: pl.DataFrame, models: list[Scorer]
) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows every model can be judged on (labelled, of a class each knows), and the labels."""
    rows = rows.filter(pl.col(target).is_not_null())
    if task == "multiclass":
        known = set.intersection(*(set(m.encoding.classes) for m in models))
        rows = rows.filter(pl.col(target).cast(pl.String).is_in(sorted(known)))
    return rows, models[0].encoding.labels(rows, target)


def _in_class_order(scores: np.ndarray, model: Scorer, classes: list[str]) -> np.ndarray:
    """Class probabilities in the order of `classes` (a class the model never saw scores 0)."""
    columns = {c: i for i, c in enumerate(model.encoding.classes)}
    aligned = np.zeros((scores.shape[0], len(classes)))
    for j, name in enumerate(classes):
        if name in columns:
            aligned[:, j] = scores[:, columns[name]]
    return aligned


def compare_on_rows(
    task: str,
    target: str,
    challenger: Scorer,
    champion: Scorer,
    rows: pl.DataFrame,
    described: str,
) -> Comparison:
    """Both models' primary metric on the same rows (rows neither trained on, for the gate)."""
    rows, labels = shared_labels(task, target, rows, [challenger, champion])
    classes = challenger.encoding.classes

    def metric(model: Scorer) -> float:
        scores = model.predict(rows)
        if task == "multiclass":
            scores = _in_class_order(scores, model, classes)
        return primary_metric(task, labels, scores, n_classes=len(classes) or None)

    return Comparison(rows.height, metric(challenger), metric(champion), described)
