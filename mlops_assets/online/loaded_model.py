"""One registered model version, loaded whole and ready to score feature rows.

It is loaded the way MLflow serves it (`mlflow.pyfunc.load_model`, which runs
`TabularLightGBM.load_context`: the booster and the encoding saved with it), and
then scored on the encoded matrix directly, with no pandas round trip on the
request path. Binary models decide at the threshold tuned on the validation
window and recorded on the version's MLflow run (`decision_threshold`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.training.encoding import FeatureEncoding

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class LoadedModel:
    """A model version in memory: what serves a request from start to finish."""

    name: str
    version: str
    booster: object
    encoding: FeatureEncoding
    best_iteration: int
    threshold: float
    loaded_at: float

    @property
    def task(self) -> str:
        return self.encoding.task

    @property
    def classes(self) -> list[str]:
        return self.encoding.classes

    @classmethod
    def load(cls, client: MlflowClient, name: str, version: str) -> LoadedModel:
        """Download and load `models:/NAME/VERSION`, then score one row to warm it up."""
        import mlflow.pyfunc

        wrapped = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
        run = client.get_run(client.get_model_version(name, version).run_id)
        threshold = float(run.data.params.get("decision_threshold", DEFAULT_THRESHOLD))
        model = cls(
            name,
            str(version),
            wrapped.booster,
            wrapped.encoding,
            int(wrapped.best_iteration),
            threshold,
            time.time(),
        )
        model.booster.predict(
            np.zeros((1, len(model.encoding.features))), num_iteration=model.best_iteration
        )
        return model

    def scores(self, features: pl.DataFrame) -> np.ndarray:
        """P(positive) for binary, class probabilities (rows by classes) for multiclass, values
        for regression: the booster on the encoded matrix, as batch scoring computes them."""
        if features.height == 0:
            width = len(self.classes) if self.task == "multiclass" else None
            return np.empty((0, width) if width else 0)
        return self.booster.predict(
            self.encoding.matrix(features), num_iteration=self.best_iteration, num_threads=1
        )

    def labels(self, scores: np.ndarray) -> list:
        """The decision for each row: 1 or 0 at the threshold (binary), the most probable class
        (multiclass); none for regression."""
        if self.task == "binary":
            return (scores >= self.threshold).astype(int).tolist()
        if self.task == "multiclass":
            return [self.classes[i] for i in np.asarray(scores).argmax(axis=1)]
        return []
