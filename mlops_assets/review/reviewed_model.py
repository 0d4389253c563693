"""One side of a review: a trained model, what it learnt from, and how its training went."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mlops_assets.serving.registered import LoadedModel
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.scope import TrainingScope


@dataclass(frozen=True)
class CheckOutcome:
    """One asset check as a run evaluated it."""

    asset: str
    check: str
    passed: bool
    blocking: bool
    description: str

    @property
    def name(self) -> str:
        return f"{self.asset}:{self.check}"


@dataclass(frozen=True)
class RowCounts:
    """Rows at each step of a training: sampled, ingested, rejected, and per split."""

    sampled: int | None = None
    ingested: int | None = None
    rejected: int | None = None
    train: int | None = None
    valid: int | None = None
    test: int | None = None


@dataclass(frozen=True, eq=False)
class ReviewedModel:
    """A model and the rows it came from, as a review compares them.

    `rows` is the model's own training set on the sample (every split), from which
    it is scored row for row; None for a champion, which scores the change's rows.
    `scope` says which rows it learnt from, `reference` is its train split (what
    the drift of the change's training window is measured against).
    """

    label: str
    version: str
    model: LoadedModel
    decision_threshold: float
    scope: TrainingScope
    rows: pl.DataFrame | None
    reference: pl.DataFrame
    test_metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def encoding(self) -> FeatureEncoding:
        return self.model.encoding

    @property
    def features(self) -> list[str]:
        return list(self.encoding.features)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self.model.predict(frame)


@dataclass(frozen=True, eq=False)
class Training:
    """What one training of a spec on the sample produced (a model only if it got that far)."""

    checks: tuple[CheckOutcome, ...]
    rows: RowCounts
    model: ReviewedModel | None
    error: str | None = None

    @property
    def trained(self) -> bool:
        return self.model is not None

    def check(self, name: str) -> CheckOutcome | None:
        return next((c for c in self.checks if c.name == name), None)
