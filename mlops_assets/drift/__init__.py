"""Data drift detection on polars frames: has production data moved away from training data?

`statistics` holds the pure two-sample statistics (PSI, KS, Jensen-Shannon,
normalized Wasserstein, chi-square); `detection` applies them per column with
Evidently's default choice of test and threshold, and rolls the columns up into a
dataset verdict and a prediction-drift check. No pandas anywhere.
"""

from __future__ import annotations

from mlops_assets.drift.detection import (
    DriftSettings,
    ReferenceProfile,
    column_drift,
    dataset_drift,
    prediction_drift,
)
from mlops_assets.drift.statistics import (
    chi_square_test,
    jensen_shannon_distance,
    ks_test,
    population_stability_index,
    wasserstein_normed,
)

__all__ = [
    "DriftSettings",
    "ReferenceProfile",
    "chi_square_test",
    "column_drift",
    "dataset_drift",
    "jensen_shannon_distance",
    "ks_test",
    "population_stability_index",
    "prediction_drift",
    "wasserstein_normed",
]
