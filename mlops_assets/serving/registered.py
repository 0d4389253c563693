"""A registered model version loaded for scoring: its booster and encoding, nothing in between.

MLflow's pyfunc wrapper (`TabularLightGBM`) is what outside consumers load; the
platform loads the same artifacts and calls the booster on the encoded matrix,
which gives the same scores without a pandas round trip per batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.training.encoding import FeatureEncoding

if TYPE_CHECKING:
    import lightgbm as lgb


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One model version ready to score feature rows."""

    name: str
    version: str
    booster: lgb.Booster
    encoding: FeatureEncoding
    best_iteration: int

    def predict(self, frame: pl.DataFrame, threads: int | None = None) -> np.ndarray:
        """P(positive) for binary, class probabilities for multiclass, values for regression.
        `threads` caps LightGBM's threads for this call (the online service scores on one)."""
        if frame.height == 0:
            width = len(self.encoding.classes)
            return np.empty((0, width)) if self.encoding.task == "multiclass" else np.empty(0)
        options = {"num_threads": threads} if threads else {}
        scores = self.booster.predict(
            self.encoding.matrix(frame), num_iteration=self.best_iteration, **options
        )
        return np.asarray(scores, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _load(tracking_uri: str, name: str, version: str) -> LoadedModel:
    import mlflow.pyfunc

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    wrapped = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    return LoadedModel(name, version, wrapped.booster, wrapped.encoding, wrapped.best_iteration)


def load_version(name: str, version: str) -> LoadedModel:
    """Model `version` of `name` from the current tracking store (cached per process)."""
    import mlflow.pyfunc

    return _load(mlflow.get_tracking_uri(), name, str(version))
