"""Drift statistics: how far the current data has moved from the reference data.

Every public function takes two polars Series (reference first) and returns plain
Python floats, so the same numbers can be logged, tested and compared anywhere.
Numeric Series (any numeric dtype except Boolean) are compared as distributions of
numbers; everything else (String, Categorical, Enum, Boolean, ...) as category
frequencies. Nothing loops over rows in Python: numeric columns are sorted once with
numpy and every statistic is read off the sorted arrays (``np.searchsorted`` on bin
edges, cumulative sums), categorical columns are reduced to counts with polars'
``value_counts``.

Missing values:

* PSI, Jensen-Shannon and chi-square give nulls (and NaN in float columns) a bin of
  their own, so a change in the missing rate is drift.
* KS and Wasserstein compare the non-null values only.

The internal ``prepare_numeric`` / ``*_sorted`` / ``category_counts`` helpers are
used by :mod:`mlops_assets.drift.detection` to sort each column once and compute
several statistics from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

PSI_EPSILON = 1e-4
"""Proportion given to an empty bin so PSI stays finite."""

CHI_SQUARE_EPSILON = 1e-4
"""Reference proportion given to a category the reference never saw (then renormalized)."""

WASSERSTEIN_EXACT_MAX_ROWS = 100_000
"""Up to this many non-null rows on both sides (or equal sizes) Wasserstein is exact."""

WASSERSTEIN_SLICES = 100_000
"""Number of equal-probability slices of the quantile function used above the exact limit."""


@dataclass(frozen=True)
class NumericSample:
    """One side of a numeric comparison: the sorted non-null values and the null count."""

    values: np.ndarray
    nulls: int

    @property
    def rows(self) -> int:
        return int(self.values.size) + self.nulls


def is_numeric(series: pl.Series) -> bool:
    """Whether a column is compared as numbers (Boolean counts as a category)."""
    return series.dtype.is_numeric() and series.dtype != pl.Boolean


def prepare_numeric(series: pl.Series) -> NumericSample:
    """Sort the non-null, non-NaN values of a numeric column as float64."""
    values = series.cast(pl.Float64)
    if values.dtype.is_float():
        values = values.fill_nan(None)
    non_null = values.drop_nulls()
    array = np.sort(non_null.to_numpy())
    return NumericSample(values=array, nulls=series.len() - int(array.size))


def _quantiles_sorted(values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles (numpy's default) of an already sorted array."""
    position = probabilities * (values.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, values.size - 1)
    fraction = position - low
    return values[low] + fraction * (values[high] - values[low])


def reference_edges(reference: NumericSample, bins: int) -> np.ndarray:
    """Inner bin edges at the reference quantiles, deduplicated (outer bins are open-ended)."""
    if reference.values.size == 0 or bins < 2:
        return np.empty(0)
    probabilities = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.unique(_quantiles_sorted(reference.values, probabilities))


def _binned_counts(sample: NumericSample, edges: np.ndarray) -> np.ndarray:
    """Counts per bin [-inf, e0), [e0, e1), ..., [e_last, inf), then the null bin."""
    cuts = np.searchsorted(sample.values, edges, side="left")
    bounds = np.concatenate(([0], cuts, [sample.values.size]))
    return np.append(np.diff(bounds), sample.nulls).astype(np.float64)


def _without_nan(series: pl.Series) -> pl.Series:
    return series.fill_nan(None) if series.dtype.is_float() else series


def _category_frame(series: pl.Series) -> pl.DataFrame:
    counts = series.drop_nulls().value_counts(name="count")
    return counts.select(
        pl.col(series.name).cast(pl.String).alias("category"),
        pl.col("count").cast(pl.Int64),
    )


@dataclass(frozen=True)
class CategorySample:
    """One side of a categorical comparison: counts per category (as text) and the null count."""

    counts: pl.DataFrame
    nulls: int


def prepare_categories(series: pl.Series) -> CategorySample:
    """Count the categories of a column once, to compare it with many others."""
    values = _without_nan(series.rename("value"))
    return CategorySample(_category_frame(values), values.null_count())


def category_counts_against(
    reference: CategorySample, current: pl.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned counts of a prepared reference and a current column, then the null bin."""
    other = prepare_categories(current)
    joined = (
        reference.counts.join(other.counts, on="category", how="full", coalesce=True)
        .fill_null(0)
        .sort("category")
    )
    reference_counts = np.append(joined["count"].to_numpy(), reference.nulls)
    current_counts = np.append(joined["count_right"].to_numpy(), other.nulls)
    return reference_counts.astype(np.float64), current_counts.astype(np.float64)


def category_counts(reference: pl.Series, current: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Aligned counts over the union of categories of both sides, then the null bin.

    Categories are matched by their string form, so a Categorical reference and a
    String current (or different category orders) still line up.
    """
    return category_counts_against(prepare_categories(reference), current)


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI = sum((cur% - ref%) * ln(cur% / ref%)) with empty bins set to PSI_EPSILON."""
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return math.nan
    reference_share = np.maximum(_proportions(reference_counts), PSI_EPSILON)
    current_share = np.maximum(_proportions(current_counts), PSI_EPSILON)
    return float(
        np.sum((current_share - reference_share) * np.log(current_share / reference_share))
    )


def jensen_shannon_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the base-2 divergence), in [0, 1]."""
    from scipy import special

    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return math.nan
    p = _proportions(reference_counts)
    q = _proportions(current_counts)
    m = (p + q) / 2.0
    divergence = (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / (2.0 * math.log(2))
    return float(math.sqrt(min(max(divergence, 0.0), 1.0)))


def chi_square_from_counts(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Goodness of fit of the current counts to the reference proportions."""
    from scipy.stats import chi2

    keep = (reference_counts > 0) | (current_counts > 0)
    reference_counts = reference_counts[keep]
    current_counts = current_counts[keep]
    n_current = current_counts.sum()
    if reference_counts.sum() == 0 or n_current == 0:
        return math.nan, math.nan
    if reference_counts.size < 2:
        return 0.0, 1.0
    reference_share = _proportions(reference_counts)
    if np.any(reference_share == 0):
        reference_share = np.where(reference_share == 0, CHI_SQUARE_EPSILON, reference_share)
        reference_share = reference_share / reference_share.sum()
    expected = reference_share * n_current
    statistic = float(np.sum((current_counts - expected) ** 2 / expected))
    p_value = float(chi2.sf(statistic, reference_counts.size - 1))
    return statistic, p_value


def psi_sorted(reference: NumericSample, current: NumericSample, bins: int = 10) -> float:
    """PSI of two prepared numeric samples on reference-quantile bins."""
    edges = reference_edges(reference, bins)
    return psi_from_counts(_binned_counts(reference, edges), _binned_counts(current, edges))


def jensen_shannon_sorted(
    reference: NumericSample, current: NumericSample, bins: int = 30
) -> float:
    """Jensen-Shannon distance of two prepared numeric samples on reference-quantile bins."""
    edges = reference_edges(reference, bins)
    return jensen_shannon_from_counts(
        _binned_counts(reference, edges), _binned_counts(current, edges)
    )


def _ecdf_gap(a: np.ndarray, b: np.ndarray, at: np.ndarray) -> float:
    """Largest |F_a - F_b| over the points `at` (both ECDFs right-continuous)."""
    cdf_a = np.searchsorted(a, at, side="right") / a.size
    cdf_b = np.searchsorted(b, at, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_sorted(reference: NumericSample, current: NumericSample) -> tuple[float, float]:
    """Two-sample KS statistic (exact) and asymptotic two-sided p-value."""
    from scipy.stats import distributions

    a, b = reference.values, current.values
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan
    statistic = max(_ecdf_gap(a, b, a), _ecdf_gap(a, b, b))
    larger, smaller = sorted([float(a.size), float(b.size)], reverse=True)
    effective_n = larger * smaller / (larger + smaller)
    p_value = float(np.clip(distributions.kstwo.sf(statistic, np.round(effective_n)), 0.0, 1.0))
    return statistic, p_value


def _wasserstein_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Integral of |F_a - F_b| over the merged support, as scipy.stats.wasserstein_distance."""
    merged = np.sort(np.concatenate((a, b)))
    widths = np.diff(merged)
    cdf_a = np.searchsorted(a, merged[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, merged[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def _slice_integrals(values: np.ndarray, shift: float, slices: int) -> np.ndarray:
    """Integral of the quantile function over each of `slices` equal-probability slices.

    The empirical quantile function is a step function, so its running integral is
    piecewise linear in the probability and exact at every slice boundary.
    """
    n = values.size
    position = np.linspace(0.0, float(n), slices + 1)
    whole = np.minimum(np.floor(position).astype(np.int64), n - 1)
    step = values[whole] - shift
    running = values - shift
    np.cumsum(running, out=running)
    before = np.where(whole > 0, running[whole - 1], 0.0)
    return np.diff((before + (position - whole) * step) / n)


def wasserstein_sorted(reference: NumericSample, current: NumericSample) -> float:
    """Wasserstein-1 distance between the two samples, divided by the reference std."""
    a, b = reference.values, current.values
    if a.size == 0 or b.size == 0:
        return math.nan
    if a.size == b.size:
        distance = float(np.mean(np.abs(a - b)))
    elif max(a.size, b.size) <= WASSERSTEIN_EXACT_MAX_ROWS:
        distance = _wasserstein_exact(a, b)
    else:
        shift = float(a[a.size // 2])
        gaps = _slice_integrals(a, shift, WASSERSTEIN_SLICES) - _slice_integrals(
            b, shift, WASSERSTEIN_SLICES
        )
        distance = float(np.abs(gaps).sum())
    scale = float(np.std(a))
    if not scale > 0:
        scale = 1.0
    return distance / scale


def _require_numeric(reference: pl.Series, current: pl.Series, statistic: str) -> None:
    if not (is_numeric(reference) and is_numeric(current)):
        raise TypeError(
            f"{statistic} needs numeric columns, got {reference.dtype} and {current.dtype}"
        )


def population_stability_index(reference: pl.Series, current: pl.Series, bins: int = 10) -> float:
    """Population Stability Index: how much the share of rows per bin has moved.

    Numeric columns use `bins` bins cut at the reference quantiles (duplicate edges
    merged, outer bins open-ended); other columns use one bin per category seen on
    either side. Nulls are a bin of their own. Empty bins count as 1e-4 so the result
    is finite. Rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant.
    """
    if is_numeric(reference) and is_numeric(current):
        return psi_sorted(prepare_numeric(reference), prepare_numeric(current), bins)
    return psi_from_counts(*category_counts(reference, current))


def ks_test(reference: pl.Series, current: pl.Series) -> tuple[float, float]:
    """Kolmogorov-Smirnov test: largest gap between the two cumulative distributions.

    Returns (statistic, p-value). The statistic is exact; the p-value is the
    asymptotic two-sided one (as ``scipy.stats.ks_2samp(method="asymp")``). Nulls are
    dropped.
    """
    _require_numeric(reference, current, "ks_test")
    return ks_sorted(prepare_numeric(reference), prepare_numeric(current))


def jensen_shannon_distance(reference: pl.Series, current: pl.Series, bins: int = 30) -> float:
    """Jensen-Shannon distance between the two frequency profiles, in [0, 1] (base 2).

    0 means identical, 1 means no overlap. Numeric columns are binned on the
    reference quantiles (`bins` bins, open-ended outer bins, shared by both sides);
    other columns use category frequencies. Nulls are a bin of their own.
    """
    if is_numeric(reference) and is_numeric(current):
        return jensen_shannon_sorted(prepare_numeric(reference), prepare_numeric(current), bins)
    return jensen_shannon_from_counts(*category_counts(reference, current))


def wasserstein_normed(reference: pl.Series, current: pl.Series) -> float:
    """Earth mover's distance in units of the reference standard deviation.

    0.5 means the current values sit, on average, half a reference std away from
    where the reference would put them. A reference std of 0 is replaced by 1. Nulls
    are dropped.

    Accuracy: exact (equal to ``scipy.stats.wasserstein_distance``) when both sides
    have the same number of non-null rows (then it is the mean gap between the sorted
    samples) or at most 100,000 rows each. Otherwise it is ``sum_k |A_k - B_k|`` over
    100,000 equal-probability slices, where ``A_k`` and ``B_k`` are the exact
    integrals of each sample's quantile function over slice ``k``. That is a lower
    bound of the exact distance, equal to it in every slice where the two quantile
    functions do not cross; the error is at most the distance mass inside the slices
    where they do. Measured on 1,000,000 against 333,333-999,999 rows: below 1e-10
    reference std for a shifted or rescaled normal, below 3e-6 reference std (0.1 %
    relative) for two samples of the same normal, lognormal or uniform distribution,
    where the quantile functions cross constantly. The drift threshold is 0.1.
    """
    _require_numeric(reference, current, "wasserstein_normed")
    return wasserstein_sorted(prepare_numeric(reference), prepare_numeric(current))


def chi_square_test(reference: pl.Series, current: pl.Series) -> tuple[float, float]:
    """Chi-square goodness of fit of the current category counts to the reference mix.

    Returns (statistic, p-value). Expected counts are the reference proportions times
    the current row count; a category the reference never saw gets proportion 1e-4
    (then renormalized) so it shows up as a large contribution instead of a division
    by zero. Nulls are a category of their own.
    """
    return chi_square_from_counts(*category_counts(reference, current))
