"""The model as MLflow serves it: booster plus encoding, behind the pyfunc interface.

Whoever loads `models:/NAME@alias` gets the same predictions the platform
evaluated, with categories encoded exactly as in training and unseen ones
handled as missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import polars as pl

BOOSTER_FILE = "booster.txt"
ENCODING_FILE = "encoding.json"


class TabularLightGBM(mlflow.pyfunc.PythonModel):
    """Scores a table of feature columns: P(positive), class probabilities, or values."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        import lightgbm as lgb

        from mlops_assets.training.encoding import FeatureEncoding

        self.booster = lgb.Booster(model_file=context.artifacts["booster"])
        payload = json.loads(Path(context.artifacts["encoding"]).read_text())
        self.encoding = FeatureEncoding.from_dict(payload["encoding"])
        self.best_iteration = payload["best_iteration"]

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        frame = (
            pl.from_pandas(model_input) if isinstance(model_input, pd.DataFrame) else model_input
        )
        scores = self.booster.predict(
            self.encoding.matrix(frame), num_iteration=self.best_iteration
        )
        if self.encoding.task == "multiclass":
            return pd.DataFrame(scores, columns=self.encoding.classes)
        return pd.Series(scores, name="prediction")


def write_artifacts(folder: Path, booster, encoding, best_iteration: int) -> dict[str, str]:
    """Save the booster and its encoding; return the pyfunc artifact map."""
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / BOOSTER_FILE), num_iteration=best_iteration)
    (folder / ENCODING_FILE).write_text(
        json.dumps({"encoding": encoding.to_dict(), "best_iteration": best_iteration}, indent=1)
    )
    return {"booster": str(folder / BOOSTER_FILE), "encoding": str(folder / ENCODING_FILE)}


def to_model_input(
    frame: pl.DataFrame, features: list[str], categorical: list[str]
) -> pd.DataFrame:
    """The pandas frame the pyfunc signature expects: text categories, float numbers."""
    columns = [
        pl.col(c).cast(pl.String) if c in categorical else pl.col(c).cast(pl.Float64, strict=False)
        for c in features
    ]
    return frame.select(columns).to_pandas()
