"""Model evaluation as pure functions: metrics, baselines, calibration, slices, plots."""

from __future__ import annotations

from mlops_assets.evaluation.metrics import (
    PRIMARY_METRIC,
    baseline_scores,
    beats_baseline,
    calibration_table,
    markdown_table,
    primary_metric,
    slice_metrics,
    task_metrics,
)
from mlops_assets.evaluation.plots import evaluation_plot_png

__all__ = [
    "PRIMARY_METRIC",
    "baseline_scores",
    "beats_baseline",
    "calibration_table",
    "evaluation_plot_png",
    "markdown_table",
    "primary_metric",
    "slice_metrics",
    "task_metrics",
]
