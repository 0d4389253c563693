"""A registered model version as the online service serves it: the model and its decision.

The model is the one batch scoring uses (`serving.registered.LoadedModel`: the
booster and the encoding saved with the version, scored on the encoded matrix
with no pandas round trip). Serving adds what an answer needs besides scores:
binary models decide at the threshold tuned on the validation window and recorded
on the version's MLflow run (`decision_threshold`), and the time it was loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.serving.registered import LoadedModel, load_version
from mlops_assets.training.encoding import FeatureEncoding

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class ServedModel:
    """A model version in memory: what serves a request from start to finish."""

    model: LoadedModel
    threshold: float
    loaded_at: float

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def encoding(self) -> FeatureEncoding:
        return self.model.encoding

    @property
    def task(self) -> str:
        return self.encoding.task

    @property
    def classes(self) -> list[str]:
        return self.encoding.classes

    @classmethod
    def load(cls, client: MlflowClient, name: str, version: str) -> ServedModel:
        """Load `models:/NAME/VERSION` and its threshold, then score one row to warm it up."""
        model = load_version(name, str(version))
        run = client.get_run(client.get_model_version(name, version).run_id)
        threshold = float(run.data.params.get("decision_threshold", DEFAULT_THRESHOLD))
        model.booster.predict(
            np.zeros((1, len(model.encoding.features))), num_iteration=model.best_iteration
        )
        return cls(model, threshold, time.time())

    def scores(self, features: pl.DataFrame) -> np.ndarray:
        """P(positive) for binary, class probabilities (rows by classes) for multiclass, values
        for regression: the batch path's scores, on one thread (requests are small)."""
        return self.model.predict(features, threads=1)

    def labels(self, scores: np.ndarray) -> list:
        """The decision for each row: 1 or 0 at the threshold (binary), the most probable class
        (multiclass); none for regression."""
        if self.task == "binary":
            return (scores >= self.threshold).astype(int).tolist()
        if self.task == "multiclass":
            return [self.classes[i] for i in np.asarray(scores).argmax(axis=1)]
        return []
