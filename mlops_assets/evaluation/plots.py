"""One evaluation figure per model: is it trustworthy (left) and what drives it (right)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.evaluation.metrics import TASKS, calibration_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_MAX_SCATTER_POINTS = 5_000
_SCATTER_SEED = 0
_DPI = 90


def pyplot():
    """pyplot on the file-only Agg backend, imported on first use (it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


FIGURE_DPI = 80


@dataclass(frozen=True)
class FigurePng:
    """One rendered picture: its file name among the run's artifacts, its title and its bytes."""

    name: str
    title: str
    png: bytes


def render_figure(
    name: str, title: str, draw: Callable[[Axes], None], size: tuple[float, float] = (5.2, 4.0)
) -> FigurePng:
    """One single-panel picture: `draw` fills the axes, the title goes on top."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=size)
    try:
        draw(axis)
        axis.set_title(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    finally:
        plt.close(figure)
    return FigurePng(name, title, buffer.getvalue())


def reliability_panel(
    ax: Axes, y_true: np.ndarray, y_score: np.ndarray, reading: str = "predicted probability"
) -> None:
    """Observed rate against the mean `reading` per bin: can the scores be read as probabilities?"""
    table = calibration_table(y_true, y_score)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    ax.plot(
        table["mean_predicted"].to_numpy(),
        table["observed_rate"].to_numpy(),
        marker="o",
        color="tab:blue",
        label="model",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean {reading}")
    ax.set_ylabel("observed rate")
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left", fontsize=8)


def _scatter_panel(ax: Axes, y_true: np.ndarray, y_score: np.ndarray) -> None:
    actual = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_score, dtype=float)
    if len(actual) > _MAX_SCATTER_POINTS:
        rng = np.random.default_rng(_SCATTER_SEED)
        keep = rng.choice(len(actual), size=_MAX_SCATTER_POINTS, replace=False)
        actual, predicted = actual[keep], predicted[keep]
    ax.scatter(actual, predicted, s=4, alpha=0.4, color="tab:blue", rasterized=True)
    finite = np.concatenate([actual, predicted])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs actual (n={len(actual):,})")


def _confusion_panel(ax: Axes, y_true: np.ndarray, y_score: np.ndarray) -> None:
    proba = np.asarray(y_score, dtype=float)
    if proba.ndim != 2:
        raise ValueError(f"multiclass: y_score must be 2-D, got shape {proba.shape}")
    k = proba.shape[1]
    actual = np.asarray(y_true).astype(int)
    if len(actual) != len(proba):
        raise ValueError(f"multiclass: y_true has {len(actual)} rows but y_score has {len(proba)}")
    if len(actual) and (actual.min() < 0 or actual.max() >= k):
        raise ValueError(f"multiclass: y_true codes must be in 0..{k - 1}")
    confusion_panel(ax, actual, proba.argmax(axis=1), [str(c) for c in range(k)])


def confusion_panel(ax: Axes, actual: np.ndarray, predicted: np.ndarray, names: list[str]) -> None:
    """Rows: actual class (codes into `names`); columns: predicted; each cell its count."""
    k = len(names)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (actual, predicted), 1)
    image = ax.imshow(matrix, cmap="Blues")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if k <= 12:
        half = matrix.max() / 2 if matrix.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{matrix[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[i, j] > half else "black",
                )
        ax.set_xticks(range(k), [n[:12] for n in names], rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), [n[:12] for n in names], fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    ax.set_title("Confusion matrix")


def importance_panel(ax: Axes, importance: pl.DataFrame, top: int) -> None:
    ax.set_title(f"Top {top} features by gain")
    if importance.height == 0 or "gain" not in importance.columns:
        ax.text(0.5, 0.5, "no feature importance", ha="center", va="center")
        ax.set_axis_off()
        return
    best = importance.sort("gain", descending=True).head(top).reverse()
    ax.barh(best["feature"].cast(pl.String).to_list(), best["gain"].to_numpy(), color="tab:green")
    ax.set_xlabel("gain")
    ax.tick_params(axis="y", labelsize=7)


def evaluation_plot_png(
    task: str,
    y_true: np.ndarray,
    y_score: np.ndarray,
    importance: pl.DataFrame,
    *,
    top: int = 15,
) -> bytes:
    """Render the model's evaluation figure as PNG bytes.

    Left: binary -> reliability diagram (can scores be read as probabilities?),
    regression -> predicted vs actual (at most 5,000 sampled points),
    multiclass -> confusion matrix (which classes get mixed up).
    Right: the ``top`` features by ``gain`` from ``importance``
    (columns feature, gain, split).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    try:
        if task == "binary":
            reliability_panel(left, y_true, y_score)
        elif task == "regression":
            _scatter_panel(left, y_true, y_score)
        else:
            _confusion_panel(left, y_true, y_score)
        importance_panel(right, importance, top)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI)
    finally:
        plt.close(fig)
    return buffer.getvalue()
