"""Pictures of monitoring: how a drifted feature moved, and how the model held up over time.

* Per drifted feature, its distribution in the champion's training rows (the
  reference) beside the monitored window's unseen rows: shared bins for a number,
  shares of the most common values for a category (as Evidently's reports draw them).
* Per spec, the primary metric over time: each version's test metric from the
  time its training data ends, and the realized metric of every monitored window,
  coloured by the champion it judged.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import polars as pl

from mlops_assets.evaluation.plots import FigurePng, render_figure

TOP_CATEGORIES = 12
BINS = 30


def figure_name(column: str) -> str:
    """A file name for a feature's picture (column names may hold any character)."""
    return f"drift_{re.sub(r'[^A-Za-z0-9_.-]+', '_', column)}.png"


def _numeric(axis, reference: pl.Series, current: pl.Series) -> None:
    ref = reference.cast(pl.Float64, strict=False).drop_nulls().drop_nans().to_numpy()
    cur = current.cast(pl.Float64, strict=False).drop_nulls().drop_nans().to_numpy()
    both = np.concatenate([ref, cur])
    if both.size == 0:
        axis.text(0.5, 0.5, "no values", ha="center", va="center")
        return
    low, high = np.quantile(both, [0.005, 0.995]) if both.size > 20 else (both.min(), both.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, BINS + 1)
    for values, label, colour in (
        (ref, "reference (training rows)", "tab:blue"),
        (cur, "current window", "tab:orange"),
    ):
        if values.size:
            clipped = np.clip(values, low, high)
            axis.hist(
                clipped,
                bins=edges,
                density=True,
                alpha=0.5,
                color=colour,
                label=f"{label}, n={values.size:,}",
            )
    axis.set_ylabel("density")
    axis.legend(fontsize=7)


def _categorical(axis, reference: pl.Series, current: pl.Series) -> None:
    ref = reference.cast(pl.String).fill_null("(missing)")
    cur = current.cast(pl.String).fill_null("(missing)")
    counts = pl.concat([ref, cur]).value_counts(sort=True)
    shown = counts.head(TOP_CATEGORIES)[counts.columns[0]].to_list()

    def shares(values: pl.Series) -> np.ndarray:
        total = max(values.len(), 1)
        found = dict(values.value_counts().iter_rows())
        return np.array([found.get(v, 0) / total for v in shown])

    positions = np.arange(len(shown))
    axis.bar(
        positions - 0.2,
        shares(ref),
        width=0.4,
        color="tab:blue",
        label=f"reference (training rows), n={ref.len():,}",
    )
    axis.bar(
        positions + 0.2,
        shares(cur),
        width=0.4,
        color="tab:orange",
        label=f"current window, n={cur.len():,}",
    )
    axis.set_xticks(positions, [str(v)[:14] for v in shown], rotation=45, ha="right", fontsize=7)
    axis.set_ylabel("share of rows")
    axis.legend(fontsize=7)


def distribution_figure(
    column: str, kind: str, reference: pl.Series, current: pl.Series, window: str
) -> FigurePng:
    """One drifted feature: reference vs the window's distribution (`kind` numeric or categorical)."""
    draw = _categorical if kind == "categorical" else _numeric
    return render_figure(
        figure_name(column),
        f"{column}: training rows vs {window}",
        lambda axis: draw(axis, reference.alias(column), current.alias(column)),
        size=(6.0, 3.6),
    )


def _as_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        return None


def metric_over_time_figure(
    metric_name: str, windows: pl.DataFrame, versions: pl.DataFrame
) -> FigurePng:
    """`windows`: window_start, realized_metric, champion_version (one row per monitored window);
    `versions`: version, trained_through (ISO time or empty), test_metric."""

    def draw(axis) -> None:
        drawn = False
        for version, rows in sorted(
            windows.drop_nulls("realized_metric")
            .sort("window_start")
            .partition_by("champion_version", as_dict=True)
            .items(),
            key=lambda item: int(item[0][0]) if str(item[0][0]).isdigit() else 0,
        ):
            axis.plot(
                rows["window_start"].to_list(),
                rows["realized_metric"].to_numpy(),
                marker="o",
                markersize=3,
                linewidth=1.2,
                label=f"realized, judged against v{version[0]}",
            )
            drawn = True
        starts = windows["window_start"].drop_nulls()
        first = starts.min() if starts.len() else None
        last = starts.max() if starts.len() else None
        timed = [
            (int(row["version"]), _as_time(row["trained_through"]), row["test_metric"])
            for row in versions.iter_rows(named=True)
            if row["test_metric"] is not None
        ]
        timed = sorted((t for t in timed if t[1] is not None), key=lambda t: t[1])
        for index, (version, since, value) in enumerate(timed):
            # Each version's line runs from the end of its training data to the next one's;
            # the first starts with the plot and the newest ends with it.
            start = min(since, first) if index == 0 and first is not None else since
            until = timed[index + 1][1] if index + 1 < len(timed) else max(since, last or since)
            axis.hlines(value, start, until, colors="grey", linestyles="--", linewidth=1)
            axis.annotate(
                f"v{version} test",
                (start, value),
                fontsize=7,
                xytext=(2, 3),
                textcoords="offset points",
                color="dimgrey",
            )
            drawn = True
        if not drawn:
            axis.text(
                0.5,
                0.5,
                "no measured window yet",
                ha="center",
                va="center",
                transform=axis.transAxes,
            )
        axis.set_ylabel(metric_name)
        axis.set_xlabel("event time")
        axis.tick_params(axis="x", labelrotation=30, labelsize=7)
        if drawn:
            axis.legend(fontsize=7, loc="best")

    return render_figure(
        "metric_over_time.png",
        f"{metric_name} over time: tested vs realized",
        draw,
        size=(8.0, 3.8),
    )


MAX_FEATURE_FIGURES = 6


def drifted_feature_figures(
    report: pl.DataFrame, reference: pl.DataFrame, current: pl.DataFrame, window: str
) -> list[FigurePng]:
    """The most severe drifted features of one window (at most MAX_FEATURE_FIGURES), each
    drawn from the reference rows and the window's unseen rows."""
    if report.height == 0 or "drifted" not in report.columns:
        return []
    worst = (
        report.filter(pl.col("drifted").fill_null(False))
        .sort("severity", descending=True, nulls_last=True)
        .head(MAX_FEATURE_FIGURES)
    )
    return [
        distribution_figure(
            row["column"], row["kind"], reference[row["column"]], current[row["column"]], window
        )
        for row in worst.iter_rows(named=True)
        if row["column"] in reference.columns and row["column"] in current.columns
    ]


def measured_windows(table: pl.DataFrame) -> pl.DataFrame:
    """One row per measured window of a drift table: when, its realized metric, whose."""
    return (
        table.filter(pl.col("realized_metric").is_not_null())
        .select("window_start", "realized_metric", "champion_version")
        .unique("window_start", keep="last")
        .sort("window_start")
    )
