"""Turning feature rows into the numeric matrix LightGBM reads.

Categorical columns become integer codes from a vocabulary learnt on the
training rows; a value never seen in training becomes missing, which LightGBM
sends down its learnt default branch instead of failing.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

SMALL_FRAME_ROWS = 1000
"""Up to this many rows (online micro-batches), `matrix` encodes column by column."""


@dataclass(frozen=True)
class FeatureEncoding:
    """Everything needed to turn a feature frame into a model matrix, saved with the model."""

    features: list[str]
    categorical: list[str]
    vocabulary: dict[str, list[str]]
    task: str
    classes: list[str]
    ranges: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        features: list[str],
        categorical: list[str],
        task: str,
        target: str,
    ) -> FeatureEncoding:
        vocabulary = {
            c: sorted(train[c].cast(pl.String).drop_nulls().unique().to_list()) for c in categorical
        }
        classes = (
            sorted(train[target].cast(pl.String).unique().drop_nulls().to_list())
            if task == "multiclass"
            else []
        )
        ranges = {}
        for c in features:
            if c not in vocabulary:
                values = train[c].cast(pl.Float64, strict=False)
                if values.drop_nulls().len():
                    ranges[c] = [float(values.min()), float(values.max())]
        return cls(features, categorical, vocabulary, task, classes, ranges)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureEncoding:
        return cls(**data)

    @functools.cached_property
    def _matrix_columns(self) -> list[pl.Expr]:
        """The expression of each matrix column, built once: a model scoring single rows
        online encodes thousands of small frames with the same vocabulary."""
        columns = []
        for name in self.features:
            if name in self.vocabulary:
                codes = {value: i for i, value in enumerate(self.vocabulary[name])}
                expr = (
                    pl.col(name)
                    .cast(pl.String)
                    .replace_strict(codes, default=None, return_dtype=pl.Float64)
                )
            else:
                expr = pl.col(name).cast(pl.Float64, strict=False)
            columns.append(expr.alias(name))
        return columns

    @functools.cached_property
    def _codes(self) -> dict[str, dict[str, float]]:
        """Each categorical column's vocabulary as a dictionary from value to code."""
        return {
            name: {value: float(i) for i, value in enumerate(values)}
            for name, values in self.vocabulary.items()
        }

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The float matrix of the features in order; unseen categories are NaN."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature column(s) {missing} are missing from the input")
        if frame.height <= SMALL_FRAME_ROWS:
            return self._small_matrix(frame)
        # Row-major, as LightGBM reads it: a column-major matrix is copied on every predict.
        return np.ascontiguousarray(frame.select(self._matrix_columns).to_numpy(), dtype=np.float64)

    def _small_matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """`matrix` of a few rows (online requests), column by column: the query engine's cost
        per expression is most of the time on a few rows, and a vocabulary is hashed again on
        every query. The two agree value for value (tests/unit/test_split_and_encoding.py)."""
        matrix = np.empty((frame.height, len(self.features)), dtype=np.float64)
        codes = self._codes
        for j, name in enumerate(self.features):
            column = frame.get_column(name)
            if name in codes:
                mine = codes[name]
                matrix[:, j] = [
                    np.nan if (code := mine.get(v)) is None else code
                    for v in column.cast(pl.String).to_list()
                ]
            else:
                matrix[:, j] = column.cast(pl.Float64, strict=False).to_numpy()
        return matrix

    def unseen_categories(self, frame: pl.DataFrame) -> dict[str, int]:
        """How many values of each categorical column were not seen in training."""
        counts = {}
        for name, values in self.vocabulary.items():
            if name in frame.columns:
                column = frame[name].cast(pl.String)
                unseen = int((column.is_not_null() & ~column.is_in(values)).sum())
                if unseen:
                    counts[name] = unseen
        return counts

    def out_of_range(self, frame: pl.DataFrame) -> dict[str, int]:
        """How many values of each numeric feature fall outside the training range."""
        counts = {}
        for name, (low, high) in self.ranges.items():
            if name in frame.columns:
                column = frame[name].cast(pl.Float64, strict=False)
                outside = int(((column < low) | (column > high)).sum())
                if outside:
                    counts[name] = outside
        return counts

    def known_labels(self, frame: pl.DataFrame, target: str) -> tuple[pl.DataFrame, np.ndarray]:
        """The rows whose label the model can be judged on, with those labels.

        Rows without a label are left out, and for multiclass so are rows of a class
        never seen in training.
        """
        if target not in frame.columns:
            return frame.head(0), np.empty(0)
        labelled = frame.filter(pl.col(target).is_not_null())
        labels = self.labels(labelled, target)
        if self.task == "multiclass":
            keep = labels >= 0
            labelled, labels = labelled.filter(pl.Series(keep)), labels[keep]
        return labelled, labels

    def labels(self, frame: pl.DataFrame, target: str) -> np.ndarray:
        """The target as the numbers LightGBM fits: 0/1, class codes or values."""
        if self.task == "multiclass":
            codes = {value: i for i, value in enumerate(self.classes)}
            return (
                frame[target]
                .cast(pl.String)
                .replace_strict(codes, default=-1, return_dtype=pl.Int64)
                .to_numpy()
            )
        if self.task == "binary":
            return frame[target].cast(pl.Int64).to_numpy()
        return frame[target].cast(pl.Float64).to_numpy()
