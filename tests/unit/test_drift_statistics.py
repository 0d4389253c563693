"""Drift statistics and per-column drift decisions, checked against known answers."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import stats
from scipy.spatial import distance

from mlops_assets.drift import (
    DriftSettings,
    chi_square_test,
    column_drift,
    dataset_drift,
    jensen_shannon_distance,
    ks_test,
    population_stability_index,
    prediction_drift,
    wasserstein_normed,
)


def _normal(n: int, mean: float = 0.0, seed: int = 0) -> pl.Series:
    return pl.Series("x", np.random.default_rng(seed).normal(mean, 1.0, n))


def _categories(counts: dict[str, int]) -> pl.Series:
    return pl.Series("c", [key for key, count in counts.items() for _ in range(count)])


def test_identical_numeric_samples_show_no_drift() -> None:
    sample = _normal(5_000)
    assert population_stability_index(sample, sample) == 0.0
    statistic, p_value = ks_test(sample, sample)
    assert statistic == 0.0
    assert p_value == pytest.approx(1.0)
    assert jensen_shannon_distance(sample, sample) == 0.0
    assert wasserstein_normed(sample, sample) == 0.0


def test_identical_categorical_samples_show_no_drift() -> None:
    sample = _categories({"a": 5, "b": 3, "c": 2})
    assert population_stability_index(sample, sample) == 0.0
    assert jensen_shannon_distance(sample, sample) == 0.0
    statistic, p_value = chi_square_test(sample, sample)
    assert statistic == 0.0
    assert p_value == pytest.approx(1.0)


def test_half_sd_shift_matches_theory() -> None:
    reference = _normal(20_000, seed=1)
    current = _normal(20_000, mean=0.5, seed=2)
    statistic, p_value = ks_test(reference, current)
    # Largest CDF gap between N(0,1) and N(0.5,1) is at x=0.25: Phi(0.25) - Phi(-0.25).
    assert statistic == pytest.approx(2 * stats.norm.cdf(0.25) - 1, abs=0.02)
    assert p_value < 1e-10
    assert wasserstein_normed(reference, current) == pytest.approx(0.5, abs=0.03)


def test_ks_matches_scipy_asymptotic_with_ties_and_nulls() -> None:
    rng = np.random.default_rng(3)
    reference = rng.integers(0, 20, 700).astype(float)
    current = rng.integers(2, 22, 450).astype(float)
    expected = stats.ks_2samp(reference, current, method="asymp")
    with_nulls = pl.Series([*reference.tolist(), None, None])
    statistic, p_value = ks_test(with_nulls, pl.Series(current))
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_wasserstein_exact_on_small_and_close_on_large_samples() -> None:
    rng = np.random.default_rng(4)
    small_ref, small_cur = rng.normal(0, 2, 3_000), rng.exponential(2, 2_000)
    exact = stats.wasserstein_distance(small_ref, small_cur) / np.std(small_ref)
    assert wasserstein_normed(pl.Series(small_ref), pl.Series(small_cur)) == pytest.approx(
        exact, rel=1e-10
    )
    for current in (rng.normal(0.3, 1.2, 150_001), rng.lognormal(0, 1, 199_999)):
        reference = rng.lognormal(0, 1, 200_000)
        exact = stats.wasserstein_distance(reference, current) / np.std(reference)
        approx = wasserstein_normed(pl.Series(reference), pl.Series(current))
        assert approx <= exact + 1e-12
        assert approx == pytest.approx(exact, abs=1e-4)
    reference, current = rng.normal(0, 1, 200_000), rng.normal(0.1, 1, 200_000)
    exact = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert wasserstein_normed(pl.Series(reference), pl.Series(current)) == pytest.approx(
        exact, rel=1e-10
    )


def test_wasserstein_constant_reference_uses_unit_scale() -> None:
    assert wasserstein_normed(pl.Series([3.0] * 10), pl.Series([5.0] * 10)) == pytest.approx(2.0)


def test_psi_categorical_by_hand() -> None:
    reference = _categories({"a": 50, "b": 30, "c": 20})
    current = _categories({"a": 40, "b": 30, "c": 30})
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + 0.0 + (0.3 - 0.2) * math.log(0.3 / 0.2)
    assert population_stability_index(reference, current) == pytest.approx(expected, rel=1e-12)


def test_psi_unseen_category_counts_with_epsilon() -> None:
    reference = _categories({"a": 60, "b": 40})
    current = _categories({"a": 50, "b": 30, "d": 20})
    expected = (
        (0.5 - 0.6) * math.log(0.5 / 0.6)
        + (0.3 - 0.4) * math.log(0.3 / 0.4)
        + (0.2 - 1e-4) * math.log(0.2 / 1e-4)
    )
    assert population_stability_index(reference, current) == pytest.approx(expected, rel=1e-12)


def test_psi_numeric_reference_quantile_bins_and_null_bin() -> None:
    reference = pl.Series([float(v) for v in range(1, 11)])
    current = pl.Series([1.0, 2.0, 3.0, 8.0, 9.0, 10.0, 10.0, None])
    # bins=2: one edge at the reference median 5.5; the null bin is empty in the reference.
    low, high, nulls = 3 / 8, 4 / 8, 1 / 8
    expected = (
        (low - 0.5) * math.log(low / 0.5)
        + (high - 0.5) * math.log(high / 0.5)
        + (nulls - 1e-4) * math.log(nulls / 1e-4)
    )
    assert population_stability_index(reference, current, bins=2) == pytest.approx(
        expected, rel=1e-12
    )


def test_jensen_shannon_categorical_by_hand() -> None:
    reference = _categories({"a": 50, "b": 30, "c": 20})
    current = _categories({"a": 40, "b": 30, "c": 30})
    p, q = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]
    m = [(pi + qi) / 2 for pi, qi in zip(p, q, strict=True)]
    divergence = 0.5 * sum(pi * math.log2(pi / mi) for pi, mi in zip(p, m, strict=True))
    divergence += 0.5 * sum(qi * math.log2(qi / mi) for qi, mi in zip(q, m, strict=True))
    expected = math.sqrt(divergence)
    assert jensen_shannon_distance(reference, current) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(distance.jensenshannon(p, q, base=2), rel=1e-12)


def test_jensen_shannon_disjoint_categories_is_one() -> None:
    assert jensen_shannon_distance(_categories({"a": 3}), _categories({"b": 4})) == pytest.approx(
        1.0
    )


def test_chi_square_matches_scipy() -> None:
    reference = _categories({"a": 50, "b": 30, "c": 20})
    current = _categories({"a": 30, "b": 45, "c": 25})
    expected = stats.chisquare([30, 45, 25], f_exp=[0.5 * 100, 0.3 * 100, 0.2 * 100])
    statistic, p_value = chi_square_test(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi_square_unseen_category_is_finite_and_significant() -> None:
    statistic, p_value = chi_square_test(
        _categories({"a": 50, "b": 50}), _categories({"a": 45, "b": 45, "new": 10})
    )
    assert math.isfinite(statistic)
    assert p_value < 1e-6


def test_categories_align_across_dtypes() -> None:
    reference = _categories({"a": 5, "b": 5}).cast(pl.Categorical)
    current = _categories({"b": 5, "a": 5})
    assert population_stability_index(reference, current) == 0.0
    assert chi_square_test(reference, current)[1] == pytest.approx(1.0)


def test_nan_counts_as_missing_like_null() -> None:
    nan = float("nan")
    with_nan = chi_square_test(pl.Series([1.0, 2.0, nan, nan]), pl.Series([1.0, 1.0, 2.0, nan]))
    with_null = chi_square_test(pl.Series([1.0, 2.0, None, None]), pl.Series([1.0, 1.0, 2.0, None]))
    assert with_nan == pytest.approx(with_null, rel=1e-12)
    assert population_stability_index(
        pl.Series([1.0, 2.0, 3.0, nan]), pl.Series([1.0, 2.0, 3.0, None])
    ) == pytest.approx(0.0, abs=1e-12)


def test_numeric_statistics_reject_text() -> None:
    with pytest.raises(TypeError):
        ks_test(_categories({"a": 2}), _categories({"a": 2}))


floats = hst.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
numeric_samples = hst.lists(floats, min_size=2, max_size=60)
category_samples = hst.lists(hst.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(category_samples, category_samples)
def test_jensen_shannon_is_symmetric_and_bounded(left: list, right: list) -> None:
    a, b = pl.Series(left, dtype=pl.String), pl.Series(right, dtype=pl.String)
    forward = jensen_shannon_distance(a, b)
    assert forward == pytest.approx(jensen_shannon_distance(b, a), abs=1e-12)
    assert 0.0 <= forward <= 1.0


@settings(max_examples=60, deadline=None)
@given(numeric_samples, numeric_samples)
def test_numeric_statistics_are_bounded(left: list[float], right: list[float]) -> None:
    a, b = pl.Series(left), pl.Series(right)
    assert population_stability_index(a, b) >= 0.0
    assert 0.0 <= jensen_shannon_distance(a, b) <= 1.0
    statistic, p_value = ks_test(a, b)
    assert 0.0 <= statistic <= 1.0
    assert 0.0 <= p_value <= 1.0
    assert wasserstein_normed(a, b) >= 0.0


@settings(max_examples=60, deadline=None)
@given(category_samples, category_samples)
def test_categorical_psi_non_negative(left: list, right: list) -> None:
    a, b = pl.Series(left, dtype=pl.String), pl.Series(right, dtype=pl.String)
    assert population_stability_index(a, b) >= 0.0


def _all_statistics(a: pl.Series, b: pl.Series) -> list[float]:
    if a.dtype == pl.String:
        return [
            population_stability_index(a, b),
            jensen_shannon_distance(a, b),
            *chi_square_test(a, b),
        ]
    return [
        population_stability_index(a, b),
        jensen_shannon_distance(a, b),
        wasserstein_normed(a, b),
        *ks_test(a, b),
    ]


paired_samples = hst.one_of(
    hst.tuples(numeric_samples, numeric_samples, hst.just(pl.Float64)),
    hst.tuples(category_samples, category_samples, hst.just(pl.String)),
)


@settings(max_examples=60, deadline=None)
@given(paired_samples, hst.randoms(use_true_random=False))
def test_statistics_ignore_row_order(samples: tuple[list, list, type], rng) -> None:
    left, right, dtype = samples
    shuffled_left, shuffled_right = list(left), list(right)
    rng.shuffle(shuffled_left)
    rng.shuffle(shuffled_right)
    before = _all_statistics(pl.Series(left, dtype=dtype), pl.Series(right, dtype=dtype))
    after = _all_statistics(
        pl.Series(shuffled_left, dtype=dtype), pl.Series(shuffled_right, dtype=dtype)
    )
    assert after == pytest.approx(before, rel=1e-12, abs=1e-12, nan_ok=True)


def _frames(rows: int, shift: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    mix = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return pl.DataFrame(
        {
            "amount": rng.normal(shift, 1.0, rows),
            "stable": rng.normal(0.0, 1.0, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows, p=mix),
            "rating": rng.integers(1, 4, rows),
        }
    )


@pytest.mark.parametrize(
    ("rows", "numeric", "text"),
    [(800, "ks", "chi_square"), (5_000, "wasserstein", "jensen_shannon")],
)
def test_column_drift_auto_picks_test_by_sample_size(rows: int, numeric: str, text: str) -> None:
    report = column_drift(
        _frames(rows, 0.0, 1),
        _frames(rows, 0.5, 2),
        ["amount", "stable", "city", "rating"],
        ["city"],
        DriftSettings(),
    )
    by_column = {row["column"]: row for row in report.iter_rows(named=True)}
    assert by_column["amount"]["method"] == numeric
    assert by_column["stable"]["method"] == numeric
    assert by_column["city"]["method"] == text
    assert by_column["rating"]["kind"] == "categorical"  # 3 distinct values
    assert by_column["rating"]["method"] == text
    assert by_column["amount"]["drifted"] and by_column["city"]["drifted"]
    assert not by_column["stable"]["drifted"]
    assert not by_column["rating"]["drifted"]
    assert report["drifted"].to_list() == [True, True, False, False]
    assert all(row["psi"] is not None for row in by_column.values())
    assert (by_column["amount"]["ks_p_value"] is not None) == (numeric == "ks")
    assert by_column["city"]["wasserstein_normed"] is None


def test_column_drift_missing_column_is_drifted() -> None:
    report = column_drift(
        _frames(200, 0.0, 1),
        _frames(200, 0.0, 2).drop("city"),
        ["amount", "city"],
        ["city"],
        DriftSettings(),
    )
    first = report.row(0, named=True)
    assert first["column"] == "city"
    assert first["method"] == "missing"
    assert first["drifted"] is True
    assert first["score"] is None


def test_column_drift_explicit_methods_and_sampling() -> None:
    settings_ = DriftSettings(numeric_method="psi", categorical_method="psi")
    report = column_drift(
        _frames(3_000, 0.0, 1), _frames(3_000, 0.5, 2), ["amount", "city"], ["city"], settings_
    )
    assert set(report["method"]) == {"psi"}
    assert report["threshold"].to_list() == [0.2, 0.2]
    sampled = column_drift(
        _frames(3_000, 0.0, 1),
        _frames(3_000, 0.5, 2),
        ["amount"],
        [],
        DriftSettings(max_sample_rows=500),
    )
    assert sampled["method"].to_list() == ["ks"]


def test_settings_reject_unknown_method() -> None:
    with pytest.raises(ValueError):
        DriftSettings(numeric_method="chi_square")


def test_dataset_drift_share() -> None:
    report = pl.DataFrame({"column": list("abcd"), "drifted": [True, True, False, False]})
    assert dataset_drift(report, DriftSettings()) == (0.5, True)
    assert dataset_drift(report, DriftSettings(dataset_drift_share=0.6)) == (0.5, False)
    assert dataset_drift(report.head(0), DriftSettings()) == (0.0, False)


def test_prediction_drift_reports_method_and_psi() -> None:
    rng = np.random.default_rng(5)
    result = prediction_drift(rng.beta(2, 5, 4_000), rng.beta(5, 2, 4_000), DriftSettings())
    assert result["method"] == "wasserstein"
    assert result["drifted"] is True
    assert result["psi"] > 0.2
    stable = prediction_drift(
        pl.Series(rng.beta(2, 5, 500)), pl.Series(rng.beta(2, 5, 500)), DriftSettings()
    )
    assert stable["method"] == "ks"
    assert stable["drifted"] is False
