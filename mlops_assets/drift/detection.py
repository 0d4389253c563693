"""Column, dataset and prediction drift: has the data the model sees moved?

`column_drift` compares each column of a current frame with the same column of a
reference frame (usually the training data) and says, per column, which test it
ran, the score, the threshold and whether the column drifted. `dataset_drift` turns
that report into one yes/no for the whole table, and `prediction_drift` applies the
same logic to model scores.

The ``auto`` method (the default) follows Evidently's default rule:

* Reference with at most ``small_sample_rows`` (1,000) non-null rows:

  - numeric column with more than 5 distinct values (both sides pooled):
    two-sample Kolmogorov-Smirnov, drift when p <= ``ks_p_value`` (0.05);
  - categorical column, or numeric with at most 5 distinct values (treated as
    categorical): chi-square goodness of fit, drift when p <= ``chi_square_p_value``
    (0.05). (Evidently uses a proportion z-test for two categories; chi-square with
    one degree of freedom is the same test up to continuity, so we keep one test.)

* Larger reference:

  - numeric with more than 5 distinct values: Wasserstein-1 distance divided by the
    reference standard deviation, drift when >= ``wasserstein_threshold`` (0.1);
  - categorical (or numeric with at most 5 distinct values): Jensen-Shannon
    distance of the category frequencies, drift when >= ``jensen_shannon_threshold``
    (0.1).

Why switch: a p-value answers "could these two samples come from the same
distribution?", and with thousands of rows the answer is "no" for almost every real
column, even when the change is far too small to matter for a model (KS on 100,000
rows flags a shift of about 0.02 standard deviations). On small samples tests are the
right tool because distances are noisy there; on large samples a distance with a
business-sized threshold ("moved by a tenth of a standard deviation") is what flags
the columns worth looking at.

Whatever the method, the report also carries the other statistics that are cheap
once a column is sorted or counted: PSI for every column; Wasserstein and
Jensen-Shannon for numeric columns; Jensen-Shannon and chi-square for categorical
ones; KS when it is the method or the reference is small (on a large sample its
p-value is meaningless and its cost is not). Others are null.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mlops_assets.drift import statistics as st

NUMERIC_METHODS: tuple[str, ...] = ("auto", "ks", "wasserstein", "psi", "jensen_shannon")
CATEGORICAL_METHODS: tuple[str, ...] = ("auto", "chi_square", "jensen_shannon", "psi")
P_VALUE_METHODS: frozenset[str] = frozenset({"ks", "chi_square"})
LOW_CARDINALITY_VALUES = 5
"""A numeric column with at most this many distinct values is compared as categorical."""
SAMPLE_SEED = 42
PSI_BINS = 10
JENSEN_SHANNON_BINS = 30

STATISTIC_COLUMNS: tuple[str, ...] = (
    "psi",
    "ks_statistic",
    "ks_p_value",
    "wasserstein_normed",
    "jensen_shannon",
    "chi_square_p_value",
)

REPORT_SCHEMA: dict[str, pl.DataType] = {
    "column": pl.String(),
    "kind": pl.String(),
    "method": pl.String(),
    "score": pl.Float64(),
    "threshold": pl.Float64(),
    "drifted": pl.Boolean(),
    "severity": pl.Float64(),
    **{name: pl.Float64() for name in STATISTIC_COLUMNS},
}
"""One row per column; ``severity`` is the score scaled so 1 is the threshold."""


@dataclass(frozen=True)
class DriftSettings:
    """Which test decides drift for each kind of column, and at what threshold.

    Methods are ``auto`` (see the module docstring) or one test for every column of
    that kind. p-value thresholds flag drift at or below them, distance thresholds
    at or above. `dataset_drift_share` is the share of drifted columns that makes
    the whole dataset drifted; `max_sample_rows` caps both sides by sampling rows
    with a fixed seed.
    """

    numeric_method: str = "auto"
    categorical_method: str = "auto"
    small_sample_rows: int = 1000
    ks_p_value: float = 0.05
    chi_square_p_value: float = 0.05
    wasserstein_threshold: float = 0.1
    jensen_shannon_threshold: float = 0.1
    psi_threshold: float = 0.2
    dataset_drift_share: float = 0.5
    max_sample_rows: int | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> DriftSettings:
        """The settings of a dataset spec's `drift:` section."""
        drift = spec.drift
        return cls(
            numeric_method=drift.numeric_method,
            categorical_method=drift.categorical_method,
            small_sample_rows=drift.small_sample_rows,
            ks_p_value=drift.ks_p_value,
            chi_square_p_value=drift.chi_square_p_value,
            wasserstein_threshold=drift.wasserstein_threshold,
            jensen_shannon_threshold=drift.jensen_shannon_threshold,
            psi_threshold=drift.psi_threshold,
            dataset_drift_share=drift.dataset_drift_share,
            max_sample_rows=drift.max_sample_rows,
        )

    def __post_init__(self) -> None:
        if self.numeric_method not in NUMERIC_METHODS:
            raise ValueError(
                f"numeric_method {self.numeric_method!r} not in {', '.join(NUMERIC_METHODS)}"
            )
        if self.categorical_method not in CATEGORICAL_METHODS:
            raise ValueError(
                f"categorical_method {self.categorical_method!r} not in "
                f"{', '.join(CATEGORICAL_METHODS)}"
            )
        if self.max_sample_rows is not None and self.max_sample_rows < 1:
            raise ValueError("max_sample_rows must be positive or None")

    def threshold(self, method: str) -> float:
        """The threshold that the score of `method` is compared with."""
        return {
            "ks": self.ks_p_value,
            "chi_square": self.chi_square_p_value,
            "wasserstein": self.wasserstein_threshold,
            "jensen_shannon": self.jensen_shannon_threshold,
            "psi": self.psi_threshold,
        }[method]


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _distinct_up_to(values: np.ndarray, limit: int) -> np.ndarray | None:
    """The distinct values of a sorted array, or None when there are more than `limit`."""
    if values.size == 0:
        return values
    changes = values[1:] != values[:-1]
    if np.count_nonzero(changes) + 1 > limit:
        return None
    return values[np.concatenate(([True], changes))]


def _is_low_cardinality(reference: st.NumericSample, current: st.NumericSample) -> bool:
    reference_values = _distinct_up_to(reference.values, LOW_CARDINALITY_VALUES)
    current_values = _distinct_up_to(current.values, LOW_CARDINALITY_VALUES)
    if reference_values is None or current_values is None:
        return False
    return np.union1d(reference_values, current_values).size <= LOW_CARDINALITY_VALUES


def _decide(
    method: str, score: float | None, settings: DriftSettings, sides_non_null: tuple[int, int]
) -> tuple[bool, float]:
    """Whether `score` means drift for `method`, and the severity (1 at the threshold)."""
    threshold = settings.threshold(method)
    if score is None:
        drifted = (sides_non_null[0] == 0) != (sides_non_null[1] == 0)
        return drifted, math.inf if drifted else 0.0
    if method in P_VALUE_METHODS:
        p_value = max(score, np.finfo(float).tiny)
        return score <= threshold, math.log(p_value) / math.log(threshold)
    return score >= threshold, score / threshold


def _categorical_row(
    reference: st.CategorySample, current: pl.Series, settings: DriftSettings
) -> dict[str, Any]:
    reference_counts, current_counts = st.category_counts_against(reference, current)
    non_null = (int(reference_counts[:-1].sum()), int(current_counts[:-1].sum()))
    method = settings.categorical_method
    if method == "auto":
        method = "chi_square" if non_null[0] <= settings.small_sample_rows else "jensen_shannon"
    _, chi_square_p_value = st.chi_square_from_counts(reference_counts, current_counts)
    statistics = {
        "psi": st.psi_from_counts(reference_counts, current_counts),
        "jensen_shannon": st.jensen_shannon_from_counts(reference_counts, current_counts),
        "chi_square_p_value": chi_square_p_value,
    }
    return _row("categorical", method, statistics, settings, non_null)


def _numeric_row(
    profile: ReferenceProfile, name: str, current_series: pl.Series, settings: DriftSettings
) -> dict[str, Any]:
    reference = profile.numeric(name)
    current = st.prepare_numeric(current_series)
    non_null = (int(reference.values.size), int(current.values.size))
    small = non_null[0] <= settings.small_sample_rows
    method = settings.numeric_method
    if method == "auto":
        if _is_low_cardinality(reference, current):
            return _categorical_row(profile.categories(name), current_series, settings)
        method = "ks" if small else "wasserstein"
    statistics: dict[str, float] = {
        "psi": st.psi_sorted(reference, current, PSI_BINS),
        "wasserstein_normed": st.wasserstein_sorted(reference, current),
        "jensen_shannon": st.jensen_shannon_sorted(reference, current, JENSEN_SHANNON_BINS),
    }
    if method == "ks" or small:
        statistics["ks_statistic"], statistics["ks_p_value"] = st.ks_sorted(reference, current)
    return _row("numeric", method, statistics, settings, non_null)


_SCORE_KEY = {
    "ks": "ks_p_value",
    "chi_square": "chi_square_p_value",
    "wasserstein": "wasserstein_normed",
    "jensen_shannon": "jensen_shannon",
    "psi": "psi",
}


def _row(
    kind: str,
    method: str,
    statistics: dict[str, float],
    settings: DriftSettings,
    non_null: tuple[int, int],
) -> dict[str, Any]:
    cleaned = {name: _finite_or_none(statistics.get(name)) for name in STATISTIC_COLUMNS}
    score = cleaned[_SCORE_KEY[method]]
    drifted, severity = _decide(method, score, settings, non_null)
    return {
        "kind": kind,
        "method": method,
        "score": score,
        "threshold": settings.threshold(method),
        "drifted": drifted,
        "severity": severity,
        **cleaned,
    }


def _missing_row(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "method": "missing",
        "score": None,
        "threshold": None,
        "drifted": True,
        "severity": math.inf,
        **dict.fromkeys(STATISTIC_COLUMNS),
    }


def _sample(frame: pl.DataFrame, rows: int | None) -> pl.DataFrame:
    if rows is None or frame.height <= rows:
        return frame
    return frame.sample(n=rows, seed=SAMPLE_SEED)


class ReferenceProfile:
    """The reference side of drift comparisons, sampled once and prepared lazily per column.

    Monitoring compares many windows with the same training rows; sorting or
    counting the reference once per column, not once per window, keeps a year of
    daily windows cheap.
    """

    def __init__(self, frame: pl.DataFrame, columns: list[str], settings: DriftSettings) -> None:
        absent = [name for name in columns if name not in frame.columns]
        if absent:
            raise ValueError(f"columns not in the reference frame: {', '.join(absent)}")
        self.columns = list(columns)
        self.frame = _sample(frame.select(columns), settings.max_sample_rows)
        self._numeric: dict[str, st.NumericSample] = {}
        self._categories: dict[str, st.CategorySample] = {}

    @property
    def rows(self) -> int:
        return self.frame.height

    def series(self, name: str) -> pl.Series:
        return self.frame[name]

    def numeric(self, name: str) -> st.NumericSample:
        if name not in self._numeric:
            self._numeric[name] = st.prepare_numeric(self.frame[name])
        return self._numeric[name]

    def categories(self, name: str) -> st.CategorySample:
        if name not in self._categories:
            self._categories[name] = st.prepare_categories(self.frame[name])
        return self._categories[name]


def column_drift(
    reference: pl.DataFrame | ReferenceProfile,
    current: pl.DataFrame,
    columns: list[str],
    categorical: list[str],
    settings: DriftSettings,
) -> pl.DataFrame:
    """Per-column drift report: which columns moved, by which test, and how badly.

    `reference` is a frame or a `ReferenceProfile` prepared for many calls.
    `categorical` names the columns compared by category frequencies; the other
    columns are numeric (a non-numeric dtype is always compared as categorical).
    A column absent from `current` is reported as drifted with method ``missing``.
    Rows are sorted with the drifted columns first, most severe first.
    """
    profile = (
        reference
        if isinstance(reference, ReferenceProfile)
        else ReferenceProfile(reference, columns, settings)
    )
    absent = [name for name in columns if name not in profile.columns]
    if absent:
        raise ValueError(f"columns not in the reference frame: {', '.join(absent)}")
    present = [name for name in columns if name in current.columns]
    current = _sample(current.select(present), settings.max_sample_rows)
    categorical_set = set(categorical)

    def one(name: str) -> dict[str, Any]:
        reference_series = profile.series(name)
        declared_numeric = name not in categorical_set and st.is_numeric(reference_series)
        if name not in current.columns:
            kind = "numeric" if declared_numeric else "categorical"
            return {"column": name, **_missing_row(kind)}
        current_series = current[name]
        if declared_numeric and st.is_numeric(current_series):
            return {"column": name, **_numeric_row(profile, name, current_series, settings)}
        row = _categorical_row(profile.categories(name), current_series, settings)
        return {"column": name, **row}

    workers = max(1, min(len(columns), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, columns))
    report = (
        pl.DataFrame(rows, schema=REPORT_SCHEMA) if rows else pl.DataFrame(schema=REPORT_SCHEMA)
    )
    return report.sort(["drifted", "severity", "column"], descending=[True, True, False])


def dataset_drift(column_report: pl.DataFrame, settings: DriftSettings) -> tuple[float, bool]:
    """Share of drifted columns, and whether it reaches `settings.dataset_drift_share`."""
    if column_report.height == 0:
        return 0.0, False
    share = float(column_report["drifted"].sum()) / column_report.height
    return share, share >= settings.dataset_drift_share


def prediction_drift(
    reference_scores: np.ndarray | pl.Series,
    current_scores: np.ndarray | pl.Series,
    settings: DriftSettings,
) -> dict[str, Any]:
    """Has the distribution of model scores moved? Same rule as a numeric column, plus PSI."""
    reference = pl.Series("prediction", reference_scores).cast(pl.Float64)
    current = pl.Series("prediction", current_scores).cast(pl.Float64)
    report = column_drift(reference.to_frame(), current.to_frame(), ["prediction"], [], settings)
    return report.row(0, named=True)
