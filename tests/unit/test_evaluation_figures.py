"""The evaluation pictures: one PNG per figure, the right ones for each task."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest

from mlops_assets.evaluation.figures import evaluation_figures, importance_figure

RNG = np.random.default_rng(7)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _image(png: bytes) -> np.ndarray:
    import matplotlib.image

    assert png.startswith(PNG_MAGIC)
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def _data(task: str, n: int = 400):
    if task == "binary":
        y = RNG.integers(0, 2, n)
        return y, np.clip(0.3 * y + RNG.uniform(0, 0.7, n), 0, 1)
    if task == "multiclass":
        y = RNG.integers(0, 3, n)
        raw = RNG.uniform(0, 1, (n, 3)) + np.eye(3)[y]
        return y, raw / raw.sum(axis=1, keepdims=True)
    y = RNG.normal(10, 3, n)
    return y, y + RNG.normal(0, 1, n)


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("binary", ["roc_curve", "pr_curve", "calibration", "confusion_matrix"]),
        ("multiclass", ["roc_curve", "pr_curve", "calibration", "confusion_matrix"]),
        ("regression", ["residuals", "residual_distribution"]),
    ],
)
def test_each_task_gets_its_own_pictures(task: str, names: list[str]) -> None:
    y, scores = _data(task)
    figures = evaluation_figures(task, y, scores, threshold=0.4, classes=["a", "b", "c"])
    assert [f.name.removesuffix(".png") for f in figures] == names
    for figure in figures:
        image = _image(figure.png)
        assert image.shape[0] > 200 and image.shape[1] > 300, figure.name
        assert image[..., :3].std() > 0.05, f"{figure.name} is blank"
        assert figure.title


def test_pictures_differ_with_the_model() -> None:
    """A better model draws a different ROC curve: the picture is drawn from the scores."""
    y, scores = _data("binary")
    good = evaluation_figures("binary", y, y * 0.8 + 0.1)[0].png
    weak = evaluation_figures("binary", y, scores)[0].png
    assert good != weak


def test_the_confusion_matrix_follows_the_served_threshold() -> None:
    y, scores = _data("binary")
    low = evaluation_figures("binary", y, scores, threshold=0.2)
    high = evaluation_figures("binary", y, scores, threshold=0.8)
    assert low[3].png != high[3].png
    assert "0.200" in low[3].title and "0.800" in high[3].title
    assert low[0].png == high[0].png  # the ROC curve does not depend on it


def test_no_rows_no_pictures_and_a_single_class_still_draws() -> None:
    assert evaluation_figures("binary", np.array([]), np.array([])) == []
    figures = evaluation_figures("binary", np.zeros(20, dtype=int), np.linspace(0, 1, 20))
    assert len(figures) == 4
    importance = pl.DataFrame({"feature": ["a", "b"], "gain": [3.0, 1.0], "split": [2, 1]})
    _image(importance_figure(importance).png)
