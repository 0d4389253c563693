"""Known-answer tests for the evaluation package."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.evaluation import (
    PRIMARY_METRIC,
    baseline_scores,
    beats_baseline,
    calibration_table,
    evaluation_plot_png,
    markdown_table,
    slice_metrics,
    task_metrics,
)


def test_primary_metric_per_task() -> None:
    assert PRIMARY_METRIC == {
        "binary": ("roc_auc", True),
        "multiclass": ("macro_f1", True),
        "regression": ("r2", True),
    }


def test_binary_perfect_scores() -> None:
    y = np.array([0, 0, 1, 1])
    m = task_metrics("binary", y, y.astype(float))
    assert m["roc_auc"] == 1.0
    assert m["pr_auc"] == 1.0
    assert m["brier"] == 0.0
    assert m["f1"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["positive_rate"] == 0.5
    assert m["log_loss"] < 1e-6
    assert all(type(v) is float for v in m.values())


def test_binary_hand_computed_values() -> None:
    m = task_metrics("binary", np.array([0, 1]), np.array([0.2, 0.8]))
    assert m["brier"] == pytest.approx(0.04)
    assert m["log_loss"] == pytest.approx(-math.log(0.8))
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = task_metrics("binary", y, p)
    # Pairs (neg, pos): (0.1,0.4) ok, (0.1,0.9) ok, (0.6,0.4) wrong, (0.6,0.9) ok -> 3/4.
    assert m["roc_auc"] == pytest.approx(0.75)
    # At 0.5: predictions 0,1,0,1 -> tp=1, fp=1, fn=1 -> f1 = 0.5, accuracy = 0.5.
    assert m["f1"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.5)
    # Threshold 0.35 predicts 0,1,1,1 -> tp=2, fp=1 -> f1 = 0.8, accuracy = 0.75.
    m = task_metrics("binary", y, p, threshold=0.35)
    assert m["f1"] == pytest.approx(0.8)
    assert m["accuracy"] == pytest.approx(0.75)


def test_binary_constant_baseline_has_auc_half() -> None:
    y_train = np.array([0, 0, 0, 1])
    y_test = np.array([0, 1, 0, 1, 1, 0])
    scores = baseline_scores("binary", y_train, len(y_test))
    assert np.allclose(scores, 0.25)
    m = task_metrics("binary", y_test, scores)
    assert m["roc_auc"] == 0.5
    assert m["brier"] == pytest.approx((3 * 0.25**2 + 3 * 0.75**2) / 6)


def test_binary_single_class_gives_nan_auc() -> None:
    m = task_metrics("binary", np.array([1, 1, 1]), np.array([0.2, 0.7, 0.9]))
    assert math.isnan(m["roc_auc"])
    assert math.isnan(m["pr_auc"])
    assert m["positive_rate"] == 1.0
    assert m["brier"] == pytest.approx((0.64 + 0.09 + 0.01) / 3)


def test_binary_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="binary"):
        task_metrics("binary", np.array([0, 1, 1]), np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="binary"):
        task_metrics("binary", np.array([0, 1]), np.array([[0.8, 0.2], [0.2, 0.8]]))
    with pytest.raises(ValueError, match="binary"):
        task_metrics("binary", np.array([0, 2]), np.array([0.2, 0.8]))


def test_regression_known_example() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 3.0, 6.0])
    m = task_metrics("regression", y, pred)
    assert m["rmse"] == pytest.approx(1.0)  # sqrt(4 / 4)
    assert m["mae"] == pytest.approx(0.5)  # 2 / 4
    assert m["r2"] == pytest.approx(1 - 4 / 5)  # SS_tot = 2.25+0.25+0.25+2.25
    mean_pred = baseline_scores("regression", y, 4)
    assert np.allclose(mean_pred, 2.5)
    assert task_metrics("regression", y, mean_pred)["r2"] == pytest.approx(0.0)


def test_multiclass_metrics_and_missing_class() -> None:
    y = np.array([0, 1, 2, 0])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]],
    )
    m = task_metrics("multiclass", y, proba)
    assert m["macro_f1"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["log_loss"] == pytest.approx(-math.log(0.8))
    # Class 2 absent from y_true (as in a small slice): must still score.
    y_slice = np.array([0, 1, 0])
    m = task_metrics("multiclass", y_slice, proba[[0, 1, 3]], n_classes=3)
    assert m["log_loss"] == pytest.approx(-math.log(0.8))
    assert math.isfinite(m["macro_f1"])


def test_multiclass_shape_mismatch_raises() -> None:
    proba = np.full((3, 3), 1 / 3)
    with pytest.raises(ValueError, match="multiclass"):
        task_metrics("multiclass", np.array([0, 1, 2]), proba, n_classes=4)
    with pytest.raises(ValueError, match="multiclass"):
        task_metrics("multiclass", np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]))


def test_multiclass_baseline_priors() -> None:
    y_train = np.array([0, 0, 0, 1])
    scores = baseline_scores("multiclass", y_train, 5, n_classes=3)
    assert scores.shape == (5, 3)
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert scores[0, 0] == pytest.approx(0.75, abs=1e-5)
    assert scores[0, 1] == pytest.approx(0.25, abs=1e-5)
    assert 0 < scores[0, 2] < 1e-5
    m = task_metrics("multiclass", np.array([2, 0, 1, 0, 0]), scores, n_classes=3)
    assert math.isfinite(m["log_loss"])


def test_unknown_task_raises() -> None:
    with pytest.raises(ValueError, match="ranking"):
        task_metrics("ranking", np.array([0, 1]), np.array([0.1, 0.9]))
    with pytest.raises(ValueError, match="ranking"):
        baseline_scores("ranking", np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="ranking"):
        beats_baseline("ranking", {}, {})
    with pytest.raises(ValueError, match="ranking"):
        evaluation_plot_png("ranking", np.array([0, 1]), np.array([0.1, 0.9]), _importance())


def test_beats_baseline() -> None:
    assert beats_baseline("binary", {"roc_auc": 0.81}, {"roc_auc": 0.5})
    assert not beats_baseline("binary", {"roc_auc": 0.5}, {"roc_auc": 0.5})
    assert not beats_baseline("binary", {"roc_auc": float("nan")}, {"roc_auc": 0.5})
    assert not beats_baseline("binary", {"roc_auc": 0.9}, {"roc_auc": float("nan")})
    assert beats_baseline("regression", {"r2": 0.3}, {"r2": -0.01})
    assert not beats_baseline("regression", {"r2": -0.2}, {"r2": 0.0})
    assert beats_baseline("multiclass", {"macro_f1": 0.6}, {"macro_f1": 0.2})


def test_calibration_table_hand_computed() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.12, 0.55, 0.58, 0.95, 1.0])
    table = calibration_table(y, p, bins=10)
    assert table.columns == ["bin", "lower", "upper", "rows", "mean_predicted", "observed_rate"]
    assert table["bin"].to_list() == [0, 1, 5, 9]
    assert table["rows"].to_list() == [1, 2, 2, 2]
    assert table["rows"].sum() == len(y)
    assert table["lower"].to_list() == pytest.approx([0.0, 0.1, 0.5, 0.9])
    assert table["upper"].to_list() == pytest.approx([0.1, 0.2, 0.6, 1.0])
    assert table["observed_rate"].to_list() == pytest.approx([0.0, 0.5, 1.0, 0.5])
    assert table["mean_predicted"].to_list() == pytest.approx([0.05, 0.135, 0.565, 0.975])
    assert table.schema["bin"] == pl.Int64
    assert table.schema["rows"] == pl.Int64


def test_slice_metrics_drops_small_slices_and_names_missing() -> None:
    rng = np.random.default_rng(7)
    slices = np.array(["a"] * 50 + [None] * 40 + ["b"] * 10 + ["c"] * 35, dtype=object)
    n = len(slices)
    y = rng.integers(0, 2, size=n)
    p = rng.random(n)
    table = slice_metrics("binary", y, p, slices, min_rows=30)
    assert table["slice"].to_list() == ["a", "(missing)", "c"]
    assert table["rows"].to_list() == [50, 40, 35]
    assert table.columns[:2] == ["slice", "rows"]
    assert set(table.columns[2:]) == set(task_metrics("binary", y, p))
    first = task_metrics("binary", y[:50], p[:50])
    assert table.row(0, named=True)["roc_auc"] == pytest.approx(first["roc_auc"])
    limited = slice_metrics("binary", y, p, slices, min_rows=30, max_slices=2)
    assert limited["slice"].to_list() == ["a", "(missing)"]


def test_slice_metrics_float_nan_and_empty() -> None:
    values = np.array([1.0] * 40 + [np.nan] * 30)
    y = np.arange(70, dtype=float)
    table = slice_metrics("regression", y, y + 1.0, values)
    assert table["slice"].to_list() == ["1.0", "(missing)"]
    assert table["mae"].to_list() == pytest.approx([1.0, 1.0])
    empty = slice_metrics("regression", y, y, values, min_rows=100)
    assert empty.height == 0
    assert empty.columns == ["slice", "rows", "rmse", "mae", "r2"]


def test_slice_metrics_multiclass_slice_missing_a_class() -> None:
    y = np.array([0, 1] * 20 + [2] * 30)
    proba = np.full((70, 3), 1 / 3)
    slices = np.array(["x"] * 40 + ["y"] * 30)
    table = slice_metrics("multiclass", y, proba, slices)
    assert table["rows"].to_list() == [40, 30]
    assert table["log_loss"].to_list() == pytest.approx([math.log(3), math.log(3)])


def test_markdown_table() -> None:
    df = pl.DataFrame({"slice": ["a", "b|c"], "rows": [3, 4], "auc": [0.123456, float("nan")]})
    expected = [
        "| slice | rows | auc |",
        "| --- | --- | --- |",
        "| a | 3 | 0.123 |",
        "| b\\|c | 4 | nan |",
    ]
    assert markdown_table(df, float_digits=3) == "\n".join(expected)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=60),
    st.randoms(use_true_random=False),
)
def test_binary_metrics_invariant_to_row_order(rows: list[tuple[int, float]], rnd) -> None:
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    order = np.array(rnd.sample(range(len(rows)), len(rows)))
    a = task_metrics("binary", y, p)
    b = task_metrics("binary", y[order], p[order])
    assert 0.0 <= a["brier"] <= 1.0
    assert 0.0 <= a["positive_rate"] <= 1.0
    if math.isnan(a["roc_auc"]):
        assert math.isnan(b["roc_auc"])
    else:
        assert a["roc_auc"] == pytest.approx(b["roc_auc"])
        assert 0.0 <= a["roc_auc"] <= 1.0
    assert a["brier"] == pytest.approx(b["brier"])
    table = calibration_table(y, p, bins=7)
    assert table["rows"].sum() == len(y)


def _importance() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "feature": [f"feature_{i}" for i in range(25)],
            "gain": [float(i * 3 % 25) for i in range(25)],
            "split": list(range(25)),
        }
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_evaluation_plot_png(task: str) -> None:
    rng = np.random.default_rng(0)
    n = 8_000
    if task == "binary":
        y = rng.integers(0, 2, size=n)
        score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    elif task == "multiclass":
        y = rng.integers(0, 4, size=n)
        score = rng.dirichlet(np.ones(4), size=n)
    else:
        y = rng.normal(size=n)
        score = y + rng.normal(scale=0.5, size=n)
    png = evaluation_plot_png(task, y, score, _importance(), top=10)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) < 300_000


def test_evaluation_plot_png_empty_importance() -> None:
    empty = pl.DataFrame(schema={"feature": pl.String, "gain": pl.Float64, "split": pl.Int64})
    png = evaluation_plot_png("binary", np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), empty)
    assert png.startswith(b"\x89PNG")
