"""Evaluation metrics: how good a model is, compared with what, and for whom.

Everything here is a pure function of numpy arrays and returns plain Python
floats or small polars frames, so it can be unit-tested without Dagster or
MLflow and logged anywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

PRIMARY_METRIC: dict[str, tuple[str, bool]] = {
    "binary": ("roc_auc", True),
    "multiclass": ("macro_f1", True),
    "regression": ("r2", True),
}
"""Task -> (metric that decides promotion, whether a larger value is better)."""

METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "accuracy", "positive_rate"),
    "multiclass": ("macro_f1", "accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
"""Task -> the keys `task_metrics` returns, in order."""

MISSING_SLICE = "(missing)"

_PRIOR_EPSILON = 1e-6


def _check_task(task: str) -> None:
    if task not in PRIMARY_METRIC:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def _as_1d(name: str, task: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{task}: {name} must be 1-D, got shape {arr.shape}")
    return arr


def _check_lengths(task: str, y_true: np.ndarray, y_score: np.ndarray) -> None:
    if len(y_true) != len(y_score):
        raise ValueError(
            f"{task}: y_true has {len(y_true)} rows but y_score has {len(y_score)} rows"
        )
    if len(y_true) == 0:
        raise ValueError(f"{task}: cannot evaluate zero rows")


def _binary_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn import metrics as skm

    y = _as_1d("y_true", "binary", y_true)
    p = _as_1d("y_score", "binary", y_score).astype(float)
    _check_lengths("binary", y, p)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("binary: y_true must contain only 0 and 1")
    y = y.astype(int)
    predicted = (p >= threshold).astype(int)
    both_classes = np.unique(y).size == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y, p)) if both_classes else math.nan,
        "pr_auc": float(skm.average_precision_score(y, p)) if both_classes else math.nan,
        "log_loss": float(skm.log_loss(y, p, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, p, labels=[0, 1])),
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "positive_rate": float(y.mean()),
    }


def _multiclass_metrics(
    y_true: np.ndarray, y_score: np.ndarray, n_classes: int | None
) -> dict[str, float]:
    from sklearn import metrics as skm

    y = _as_1d("y_true", "multiclass", y_true)
    proba = np.asarray(y_score, dtype=float)
    if proba.ndim != 2:
        raise ValueError(
            f"multiclass: y_score must be 2-D (rows, classes), got shape {proba.shape}"
        )
    _check_lengths("multiclass", y, proba)
    k = proba.shape[1] if n_classes is None else n_classes
    if proba.shape[1] != k:
        raise ValueError(f"multiclass: y_score has {proba.shape[1]} columns but n_classes={k}")
    if k < 2:
        raise ValueError(f"multiclass: need at least 2 classes, got {k}")
    y = y.astype(int)
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"multiclass: y_true codes must be in 0..{k - 1}")
    predicted = proba.argmax(axis=1)
    return {
        "macro_f1": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "log_loss": float(skm.log_loss(y, proba, labels=list(range(k)))),
    }


def _regression_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    y = _as_1d("y_true", "regression", y_true).astype(float)
    pred = _as_1d("y_score", "regression", y_score).astype(float)
    _check_lengths("regression", y, pred)
    return {
        "rmse": float(skm.root_mean_squared_error(y, pred)),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "r2": float(skm.r2_score(y, pred)) if len(y) >= 2 else math.nan,
    }


def task_metrics(
    task: str,
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    threshold: float = 0.5,
    n_classes: int | None = None,
) -> dict[str, float]:
    """Score predictions with the metrics the business reads for this task.

    binary: ``y_score`` is P(class 1). ``roc_auc`` is ranking quality (0.5 is
    a coin flip), ``pr_auc`` is how clean the top of the ranking is, ``log_loss``
    and ``brier`` judge whether probabilities can be trusted as probabilities,
    ``f1``/``accuracy`` describe decisions made at ``threshold``, and
    ``positive_rate`` is the share of actual positives (the base rate).
    ``roc_auc``/``pr_auc`` are nan when only one class is present.

    multiclass: ``y_score`` is an (n, k) probability matrix. ``macro_f1`` weighs
    every class equally, so rare classes count; ``log_loss`` uses all k labels
    so a slice missing a class still scores.

    regression: ``rmse`` (penalises big misses), ``mae`` (typical miss, in target
    units) and ``r2`` (share of variance explained; 0 is "predict the mean").
    """
    _check_task(task)
    if task == "binary":
        return _binary_metrics(y_true, y_score, threshold)
    if task == "multiclass":
        return _multiclass_metrics(y_true, y_score, n_classes)
    return _regression_metrics(y_true, y_score)


def baseline_scores(
    task: str, y_train: np.ndarray, n_rows: int, n_classes: int | None = None
) -> np.ndarray:
    """Predictions of the trivial model that knows only the training target.

    A model is worth deploying only if it beats this: the training positive
    rate (binary), the training class shares (multiclass, with a tiny floor so
    unseen classes keep a finite log loss) or the training mean (regression).
    """
    _check_task(task)
    y = _as_1d("y_train", task, y_train)
    if len(y) == 0:
        raise ValueError(f"{task}: y_train is empty, no baseline can be computed")
    if n_rows < 0:
        raise ValueError(f"{task}: n_rows must be non-negative, got {n_rows}")
    if task == "binary":
        return np.full(n_rows, float(np.mean(y.astype(float))))
    if task == "regression":
        return np.full(n_rows, float(np.mean(y.astype(float))))
    codes = y.astype(int)
    if codes.min() < 0:
        raise ValueError("multiclass: y_train codes must be non-negative")
    k = int(codes.max()) + 1 if n_classes is None else n_classes
    if codes.max() >= k:
        raise ValueError(f"multiclass: y_train has code {codes.max()} but n_classes={k}")
    priors = np.bincount(codes, minlength=k) / len(codes) + _PRIOR_EPSILON
    priors = priors / priors.sum()
    return np.tile(priors, (n_rows, 1))


def beats_baseline(
    task: str, model_metrics: dict[str, Any], baseline_metrics: dict[str, Any]
) -> bool:
    """Whether the model is strictly better than the baseline on the primary metric.

    A constant baseline scores roc_auc 0.5, a low macro_f1 and r2 <= 0, so this
    is the minimum bar for promotion. A nan on either side means "not shown to
    be better" and returns False.
    """
    _check_task(task)
    name, greater_is_better = PRIMARY_METRIC[task]
    for label, values in (("model", model_metrics), ("baseline", baseline_metrics)):
        if name not in values:
            raise ValueError(f"{task}: {label} metrics lack the primary metric {name!r}")
    model_value = float(model_metrics[name])
    baseline_value = float(baseline_metrics[name])
    if math.isnan(model_value) or math.isnan(baseline_value):
        return False
    if greater_is_better:
        return model_value > baseline_value
    return model_value < baseline_value


def calibration_table(y_true: np.ndarray, y_prob: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Reliability of binary probabilities: per probability band, predicted vs observed.

    Rows whose ``mean_predicted`` is close to ``observed_rate`` mean a score of
    0.3 really does come true about 30% of the time. Bands are equal-width on
    [0, 1] (a probability of exactly 1 falls in the last band); empty bands are
    omitted.
    """
    if bins < 1:
        raise ValueError(f"binary: bins must be at least 1, got {bins}")
    y = _as_1d("y_true", "binary", y_true).astype(float)
    p = _as_1d("y_prob", "binary", y_prob).astype(float)
    if len(y) != len(p):
        raise ValueError(f"binary: y_true has {len(y)} rows but y_prob has {len(p)} rows")
    if len(p) and (np.nanmin(p) < 0 or np.nanmax(p) > 1 or np.isnan(p).any()):
        raise ValueError("binary: y_prob must be probabilities in [0, 1]")
    index = np.clip(np.floor(p * bins).astype(int), 0, bins - 1)
    rows = np.bincount(index, minlength=bins)
    predicted_sum = np.bincount(index, weights=p, minlength=bins)
    observed_sum = np.bincount(index, weights=y, minlength=bins)
    keep = np.flatnonzero(rows)
    edges = np.linspace(0.0, 1.0, bins + 1)
    return pl.DataFrame(
        {
            "bin": keep.astype(np.int64),
            "lower": edges[keep],
            "upper": edges[keep + 1],
            "rows": rows[keep].astype(np.int64),
            "mean_predicted": predicted_sum[keep] / rows[keep],
            "observed_rate": observed_sum[keep] / rows[keep],
        },
        schema={
            "bin": pl.Int64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "rows": pl.Int64,
            "mean_predicted": pl.Float64,
            "observed_rate": pl.Float64,
        },
    )


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def _slice_labels(slice_values: np.ndarray) -> np.ndarray:
    values = np.asarray(slice_values)
    if values.ndim != 1:
        raise ValueError(f"slice_values must be 1-D, got shape {values.shape}")
    return np.array(
        [MISSING_SLICE if _is_missing(v) else str(v) for v in values.tolist()], dtype=object
    )


def slice_metrics(
    task: str,
    y_true: np.ndarray,
    y_score: np.ndarray,
    slice_values: np.ndarray,
    *,
    threshold: float = 0.5,
    n_classes: int | None = None,
    min_rows: int = 30,
    max_slices: int = 20,
) -> pl.DataFrame:
    """Metrics per segment, to show who the model serves well and who it fails.

    One row per distinct value of ``slice_values`` (as a string; nulls and nan
    become "(missing)"), with ``slice``, ``rows`` and the ``task_metrics`` keys.
    Segments under ``min_rows`` rows are too noisy to judge and are left out;
    at most ``max_slices`` of the largest segments are kept, largest first.
    """
    _check_task(task)
    labels = _slice_labels(slice_values)
    y = np.asarray(y_true)
    scores = np.asarray(y_score)
    if not len(labels) == len(y) == len(scores):
        raise ValueError(
            f"{task}: y_true ({len(y)}), y_score ({len(scores)}) and slice_values "
            f"({len(labels)}) must have the same number of rows"
        )
    if task == "multiclass" and n_classes is None and scores.ndim == 2:
        n_classes = scores.shape[1]
    names, inverse, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    order = sorted(
        (i for i in range(len(names)) if counts[i] >= min_rows),
        key=lambda i: (-int(counts[i]), str(names[i])),
    )[: max(max_slices, 0)]
    records: list[dict[str, Any]] = []
    for i in order:
        mask = inverse == i
        row: dict[str, Any] = {"slice": str(names[i]), "rows": int(counts[i])}
        row.update(
            task_metrics(task, y[mask], scores[mask], threshold=threshold, n_classes=n_classes)
        )
        records.append(row)
    schema: dict[str, Any] = {"slice": pl.String, "rows": pl.Int64}
    schema.update({key: pl.Float64 for key in METRIC_KEYS[task]})
    return pl.DataFrame(records, schema=schema)


def _cell(value: object, float_digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{float_digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pl.DataFrame, float_digits: int = 4) -> str:
    """Render a small frame as a GitHub-flavoured markdown table for run reports."""
    if df.width == 0:
        return ""
    header = "| " + " | ".join(_cell(c, float_digits) for c in df.columns) + " |"
    separator = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(_cell(v, float_digits) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([header, separator, *body])


def primary_metric(
    task: str,
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    threshold: float = 0.5,
    n_classes: int | None = None,
) -> float:
    """The metric that decides promotion and monitoring (`PRIMARY_METRIC`), nan when undefined."""
    name, _ = PRIMARY_METRIC[task]
    if len(y_true) == 0:
        return math.nan
    return float(
        task_metrics(task, y_true, y_score, threshold=threshold, n_classes=n_classes)[name]
    )
