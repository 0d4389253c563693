"""Monitoring pictures: the worst drifted features, drawn from both sides; the metric over time."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import polars as pl

from mlops_assets.drift.figures import (
    MAX_FEATURE_FIGURES,
    drifted_feature_figures,
    figure_name,
    measured_windows,
    metric_over_time_figure,
)

RNG = np.random.default_rng(3)


def _pixels(png: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def _report(rows: list[tuple[str, str, bool, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["column", "kind", "drifted", "severity"], orient="row")


def test_only_drifted_features_are_drawn_worst_first_and_capped() -> None:
    names = [f"x{i}" for i in range(MAX_FEATURE_FIGURES + 3)]
    report = _report(
        [(n, "numeric", True, float(i)) for i, n in enumerate(names)]
        + [("calm", "numeric", False, 50.0), ("city", "categorical", True, 99.0)]
    )
    reference = pl.DataFrame(
        {**{n: RNG.normal(0, 1, 300) for n in [*names, "calm"]}, "city": ["a", "b", "c"] * 100}
    )
    current = pl.DataFrame(
        {**{n: RNG.normal(2, 1, 200) for n in [*names, "calm"]}, "city": ["c", "d"] * 100}
    )
    figures = drifted_feature_figures(report, reference, current, "the window of 2013-02-01")
    worst = [figure_name(n) for n in reversed(names)][: MAX_FEATURE_FIGURES - 1]
    assert [f.name for f in figures] == [figure_name("city"), *worst]
    assert "calm" not in " ".join(f.title for f in figures)
    for figure in figures:
        assert _pixels(figure.png)[..., :3].std() > 0.05


def test_a_moved_feature_looks_different_from_a_still_one() -> None:
    report = _report([("x", "numeric", True, 3.0)])
    reference = pl.DataFrame({"x": RNG.normal(0, 1, 500)})
    moved = drifted_feature_figures(
        report, reference, pl.DataFrame({"x": RNG.normal(3, 1, 500)}), "w"
    )
    still = drifted_feature_figures(
        report, reference, pl.DataFrame({"x": RNG.normal(0, 1, 500)}), "w"
    )
    assert moved[0].png != still[0].png


def test_figure_names_are_safe_file_names() -> None:
    assert figure_name("dep time/€ (local)") == "drift_dep_time_local_.png"


def test_measured_windows_keep_one_row_per_labelled_window() -> None:
    day = dt.datetime(2013, 2, 1)
    table = pl.DataFrame(
        {
            "window_start": [day, day, day + dt.timedelta(days=1), day + dt.timedelta(days=2)],
            "realized_metric": [0.7, 0.7, None, 0.65],
            "champion_version": ["1", "1", "1", "2"],
            "column": ["a", "b", "a", "a"],
        }
    )
    windows = measured_windows(table)
    assert windows["realized_metric"].to_list() == [0.7, 0.65]
    assert windows["champion_version"].to_list() == ["1", "2"]


def test_metric_over_time_draws_versions_and_windows_and_an_empty_history() -> None:
    day = dt.datetime(2013, 2, 1)
    windows = pl.DataFrame(
        {
            "window_start": [day + dt.timedelta(days=i) for i in range(10)],
            "realized_metric": list(np.linspace(0.72, 0.6, 10)),
            "champion_version": ["1"] * 5 + ["2"] * 5,
        }
    )
    versions = pl.DataFrame(
        {
            "version": [2, 1],
            "trained_through": ["2013-02-05T00:00:00", "2013-01-31T23:00:00"],
            "test_metric": [0.7, 0.71],
        }
    )
    drawn = metric_over_time_figure("roc_auc", windows, versions)
    empty = metric_over_time_figure("roc_auc", windows.head(0), versions.head(0))
    assert drawn.name == "metric_over_time.png" and drawn.png != empty.png
    assert _pixels(drawn.png).shape[1] > 500
