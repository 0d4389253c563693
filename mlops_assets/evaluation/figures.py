"""The pictures an analyst looks at before trusting a model, one PNG each.

Classification: ROC and precision-recall curves (one-vs-rest per class for
multiclass), a reliability diagram (the predicted class's confidence for
multiclass) and the confusion matrix at the decision the model serves (the
tuned threshold for binary, the most probable class for multiclass).
Regression: residuals against the prediction, and the residuals' distribution.

Each figure is logged as an artifact of the version's MLflow run and shown
inline in the Dagster asset page (`assets/figures.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.evaluation.plots import (
    FigurePng,
    confusion_panel,
    importance_panel,
    reliability_panel,
)
from mlops_assets.evaluation.plots import render_figure as _render

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MAX_POINTS = 5_000
MAX_CURVE_CLASSES = 8
SAMPLE_SEED = 0


def _sample(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """At most MAX_POINTS rows, the same ones from each array (fixed seed)."""
    if len(arrays[0]) <= MAX_POINTS:
        return arrays
    keep = np.sort(
        np.random.default_rng(SAMPLE_SEED).choice(len(arrays[0]), MAX_POINTS, replace=False)
    )
    return tuple(a[keep] for a in arrays)


def _curves(
    axis: Axes, y_true: np.ndarray, scores: np.ndarray, classes: list[str], kind: str
) -> None:
    """ROC (`kind` "roc") or precision-recall ("pr") curves: one, or one per class vs the rest."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    if scores.ndim == 1:
        pairs = [("positive", y_true.astype(int), scores)]
    else:
        shown = np.argsort(-np.bincount(y_true.astype(int), minlength=scores.shape[1]))
        pairs = [
            (classes[k] if k < len(classes) else str(k), (y_true == k).astype(int), scores[:, k])
            for k in shown[:MAX_CURVE_CLASSES]
        ]
    for label, actual, score in pairs:
        if actual.min() == actual.max():
            continue
        if kind == "roc":
            fpr, tpr, _ = roc_curve(actual, score)
            axis.plot(fpr, tpr, linewidth=1.5, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
        else:
            precision, recall, _ = precision_recall_curve(actual, score)
            ap = average_precision_score(actual, score)
            axis.step(
                recall, precision, where="post", linewidth=1.5, label=f"{label} (AP {ap:.3f})"
            )
    if kind == "roc":
        axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
        axis.set_xlabel("false positive rate")
        axis.set_ylabel("true positive rate")
    else:
        rate = float(np.mean(pairs[0][1])) if len(pairs) == 1 else None
        if rate is not None:
            axis.axhline(rate, linestyle="--", color="grey", linewidth=1, label="chance")
        axis.set_xlabel("recall")
        axis.set_ylabel("precision")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.legend(loc="lower right" if kind == "roc" else "lower left", fontsize=7)


def _residuals(axis: Axes, actual: np.ndarray, predicted: np.ndarray) -> None:
    predicted, actual = _sample(predicted, actual)
    axis.scatter(predicted, actual - predicted, s=4, alpha=0.4, rasterized=True)
    axis.axhline(0, linestyle="--", color="grey", linewidth=1)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual - predicted")


def _residual_histogram(axis: Axes, actual: np.ndarray, predicted: np.ndarray) -> None:
    residual = actual - predicted
    residual = residual[np.isfinite(residual)]
    axis.hist(residual, bins=40, color="tab:blue", alpha=0.8)
    axis.axvline(0, linestyle="--", color="grey", linewidth=1)
    axis.set_xlabel("actual - predicted")
    axis.set_ylabel("rows")


def importance_figure(importance: pl.DataFrame, top: int = 15) -> FigurePng:
    """The `top` features by gain (columns feature, gain)."""
    return _render(
        "feature_importance.png",
        f"Top {top} features by gain",
        lambda axis: importance_panel(axis, importance, top),
    )


def evaluation_figures(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float = 0.5,
    classes: list[str] | None = None,
) -> list[FigurePng]:
    """The task's pictures of a model on its test rows (labels `y_true`, model `scores`)."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=float)
    n = len(y_true)
    if n == 0:
        return []
    if task == "regression":
        actual = y_true.astype(float)
        return [
            _render(
                "residuals.png",
                f"Residuals vs prediction (n={n:,})",
                lambda axis: _residuals(axis, actual, scores),
            ),
            _render(
                "residual_distribution.png",
                "Distribution of residuals",
                lambda axis: _residual_histogram(axis, actual, scores),
            ),
        ]
    labels = y_true.astype(int)
    if task == "binary":
        names = ["0", "1"]
        predicted = (scores >= threshold).astype(int)
        correct, confidence, reading = labels, scores, "predicted probability"
        matrix_title = f"Confusion matrix at threshold {threshold:.3f}"
    else:
        names = list(classes or [str(k) for k in range(scores.shape[1])])
        predicted = scores.argmax(axis=1)
        correct = (predicted == labels).astype(int)
        confidence, reading = scores.max(axis=1), "confidence of the predicted class"
        matrix_title = "Confusion matrix (most probable class)"
    return [
        _render(
            "roc_curve.png",
            "ROC curve" + (" (one class vs the rest)" if scores.ndim == 2 else ""),
            lambda axis: _curves(axis, labels, scores, names, "roc"),
        ),
        _render(
            "pr_curve.png",
            "Precision-recall curve" + (" (one class vs the rest)" if scores.ndim == 2 else ""),
            lambda axis: _curves(axis, labels, scores, names, "pr"),
        ),
        _render(
            "calibration.png",
            "Reliability diagram",
            lambda axis: reliability_panel(axis, correct, confidence, reading),
        ),
        _render(
            "confusion_matrix.png",
            matrix_title,
            lambda axis: confusion_panel(axis, labels, predicted, names),
        ),
    ]
