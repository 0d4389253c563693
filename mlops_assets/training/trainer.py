"""Fitting LightGBM on the training window, stopping early on the validation window.

The fit is deterministic: a fixed seed, LightGBM's `deterministic` mode and a
fixed thread count, over rows in a content-defined order, so the same data
version and spec give the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from mlops_assets.features.build import categorical_columns
from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW, WINDOW
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.split import ROW_KEY, SPLIT

if TYPE_CHECKING:
    import lightgbm as lgb

OBJECTIVES = {
    "binary": {"objective": "binary", "metric": "binary_logloss"},
    "multiclass": {"objective": "multiclass", "metric": "multi_logloss"},
    "regression": {"objective": "regression", "metric": "l2"},
}


@dataclass
class TrainedBooster:
    """A fitted booster with the encoding that feeds it."""

    booster: lgb.Booster
    encoding: FeatureEncoding
    params: dict
    best_iteration: int
    excluded: dict[str, str]

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Scores: P(positive) for binary, class probabilities for multiclass, values for regression."""
        return self.booster.predict(self.encoding.matrix(frame), num_iteration=self.best_iteration)

    def importance(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "feature": self.booster.feature_name(),
                "gain": self.booster.feature_importance(
                    "gain", iteration=self.best_iteration
                ).astype(float),
                "split": self.booster.feature_importance(
                    "split", iteration=self.best_iteration
                ).astype(int),
            }
        ).sort("gain", descending=True)


def lightgbm_params(spec: DatasetSpec, n_classes: int) -> dict:
    """Spec parameters over safe, repeatable defaults."""
    params = {
        **OBJECTIVES[spec.target.task],
        "learning_rate": 0.05,
        "num_leaves": 31,
        "verbosity": -1,
        "seed": spec.training.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": spec.training.num_threads,
        **spec.training.params,
    }
    if spec.target.task == "multiclass":
        params["num_class"] = n_classes
    return params


def feature_candidates(spec: DatasetSpec, training_set: pl.DataFrame) -> list[str]:
    """Every column of the training set that may feed the model."""
    reserved = {
        EVENT_TIME,
        PARTITION,
        WINDOW,
        SOURCE_ROW,
        SPLIT,
        ROW_KEY,
        spec.target.column,
        *spec.id_columns,
    }
    return [c for c in training_set.columns if c not in reserved]


def select_features(
    spec: DatasetSpec, train: pl.DataFrame, candidates: list[str]
) -> tuple[list[str], list[str], dict[str, str]]:
    """Final features from the training window: drop constant and identifier-like text columns."""
    excluded: dict[str, str] = {}
    categorical = categorical_columns(spec, train, candidates)
    features = []
    for column in candidates:
        distinct = train[column].n_unique()
        if distinct <= 1:
            excluded[column] = "constant in the training window"
        elif column in categorical and distinct > spec.features.max_categories:
            excluded[column] = (
                f"{distinct} distinct values (> features.max_categories {spec.features.max_categories})"
            )
        else:
            features.append(column)
    return features, [c for c in categorical if c in features], excluded


def train_booster(spec: DatasetSpec, frame: pl.DataFrame, candidates: list[str]) -> TrainedBooster:
    """Fit on the train split with early stopping on the valid split; the test split is never read."""
    import lightgbm as lgb

    train = frame.filter(pl.col(SPLIT) == "train")
    valid = frame.filter(pl.col(SPLIT) == "valid")
    features, categorical, excluded = select_features(spec, train, candidates)
    if not features:
        raise ValueError(f"spec `{spec.name}`: no usable feature columns")
    target = spec.target.column
    encoding = FeatureEncoding.fit(train, features, categorical, spec.target.task, target)
    y_train = encoding.labels(train, target)
    valid, y_valid = encoding.known_labels(valid, target)
    params = lightgbm_params(spec, len(encoding.classes))
    categorical_index = [features.index(c) for c in categorical]
    train_set = lgb.Dataset(
        encoding.matrix(train),
        y_train,
        feature_name=features,
        categorical_feature=categorical_index,
        free_raw_data=True,
    )
    valid_set = lgb.Dataset(encoding.matrix(valid), y_valid, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=spec.training.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(spec.training.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    return TrainedBooster(booster, encoding, params, best, excluded)
