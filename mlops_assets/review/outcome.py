"""What a review found, and what it adds up to: pass, reject, or could not run."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from mlops_assets.policy.gate import Comparison, GateDecision
from mlops_assets.review.comparison import FeatureChanges, SharedRows, TrainingDrift
from mlops_assets.review.reviewed_model import ReviewedModel, Training
from mlops_assets.review.sampling import RowSample
from mlops_assets.specs.model import DatasetSpec

PASSED, REJECTED, NOT_RUN = 0, 1, 2
"""Exit codes of `mlops review`: the gate would promote; it would reject; the review could not run."""


@dataclass(frozen=True)
class Base:
    """What the change is compared with, in words, and the base's training on the sample."""

    description: str
    note: str = ""
    spec: DatasetSpec | None = None
    training: Training | None = None
    model: ReviewedModel | None = None
    same_spec: bool = False
    same_rows: bool = True


@dataclass(frozen=True, eq=False)
class Review:
    """Every finding of one review."""

    spec: DatasetSpec
    sample: RowSample
    change: Training
    base: Base
    spec_changes: list[str] = field(default_factory=list)
    features: FeatureChanges | None = None
    shared: SharedRows | None = None
    comparison: Comparison | None = None
    metrics: pl.DataFrame = field(default_factory=pl.DataFrame)
    drift: TrainingDrift | None = None
    verdict: GateDecision | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed

    @property
    def exit_code(self) -> int:
        return PASSED if self.passed else REJECTED


@dataclass(frozen=True)
class ReviewFailure:
    """A review that could not run, and why."""

    spec_name: str
    reason: str

    @property
    def exit_code(self) -> int:
        return NOT_RUN
