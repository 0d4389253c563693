"""The promotion gate: may a challenger replace the champion?

Three checks, all blocking, in the spirit of TFX's Evaluator blessing and
MLflow's `MetricThreshold`:

- `challenger_beats_baseline`: on its test rows, the challenger beats a trivial
  baseline (the training prior).
- `challenger_meets_floor`: its test metric reaches the spec's
  `quality.min_test_metric`, when one is set.
- `challenger_not_worse_than_champion`: on rows that neither model trained on,
  the challenger's metric is at most `promotion.max_metric_drop` below the
  champion's. The first model of a spec has no champion and passes this check.

A metric that cannot be computed (one class in the test rows, too few rows
neither model saw) fails its check with the reason: the gate never promotes on
numbers it does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CHALLENGER_BEATS_BASELINE = "challenger_beats_baseline"
CHALLENGER_MEETS_FLOOR = "challenger_meets_floor"
CHALLENGER_NOT_WORSE_THAN_CHAMPION = "challenger_not_worse_than_champion"
GATE_CHECKS = (
    CHALLENGER_BEATS_BASELINE,
    CHALLENGER_MEETS_FLOOR,
    CHALLENGER_NOT_WORSE_THAN_CHAMPION,
)
MIN_COMPARISON_ROWS = 30


@dataclass(frozen=True)
class Comparison:
    """Challenger and champion scored on the same rows, which neither trained on."""

    rows: int
    challenger_metric: float
    champion_metric: float
    rows_described: str


@dataclass(frozen=True)
class GateEvidence:
    """Everything the gate looks at, in the spec's primary metric (larger is better)."""

    metric: str
    challenger_version: str
    challenger_metric: float
    baseline_metric: float
    floor: float | None
    max_drop: float
    champion_version: str | None = None
    comparison: Comparison | None = None


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    """The three checks and what they add up to."""

    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def decision(self) -> str:
        return "promoted" if self.passed else "rejected"

    def check(self, name: str) -> GateCheck:
        return next(c for c in self.checks if c.name == name)

    def reason(self, trigger: str) -> str:
        return f"{trigger}: " + "; ".join(f"{c.name}: {c.detail}" for c in self.checks)


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _baseline_check(evidence: GateEvidence) -> GateCheck:
    metric, value, baseline = evidence.metric, evidence.challenger_metric, evidence.baseline_metric
    if not _known(value):
        return GateCheck(
            CHALLENGER_BEATS_BASELINE,
            False,
            f"{metric} cannot be computed on the test rows (a single class, or no labelled rows)",
        )
    passed = not _known(baseline) or value > baseline
    shown = f"{baseline:.4f}" if _known(baseline) else "undefined"
    return GateCheck(CHALLENGER_BEATS_BASELINE, passed, f"{metric} {value:.4f} vs baseline {shown}")


def _floor_check(evidence: GateEvidence) -> GateCheck:
    metric, value, floor = evidence.metric, evidence.challenger_metric, evidence.floor
    if floor is None:
        return GateCheck(CHALLENGER_MEETS_FLOOR, _known(value), f"{metric} {value:.4f}, floor none")
    passed = _known(value) and value >= floor
    return GateCheck(CHALLENGER_MEETS_FLOOR, passed, f"{metric} {value:.4f}, floor {floor:g}")


def _champion_check(evidence: GateEvidence) -> GateCheck:
    name, metric = CHALLENGER_NOT_WORSE_THAN_CHAMPION, evidence.metric
    if evidence.champion_version is None:
        return GateCheck(
            name, True, "no champion yet: the first model is promoted if it beats the baseline"
        )
    comparison = evidence.comparison
    champion = f"champion v{evidence.champion_version}"
    if comparison is None or comparison.rows < MIN_COMPARISON_ROWS:
        rows = 0 if comparison is None else comparison.rows
        return GateCheck(
            name,
            False,
            f"only {rows} labelled rows that neither the challenger nor {champion} trained on "
            f"(need {MIN_COMPARISON_ROWS}): no fair comparison",
        )
    challenger, current = comparison.challenger_metric, comparison.champion_metric
    if not (_known(challenger) and _known(current)):
        return GateCheck(
            name, False, f"{metric} cannot be computed on the {comparison.rows} shared rows"
        )
    passed = challenger >= current - evidence.max_drop
    return GateCheck(
        name,
        passed,
        f"{metric} {challenger:.4f} vs {champion} {current:.4f} on {comparison.rows:,} rows "
        f"neither trained on ({comparison.rows_described}; allowed drop {evidence.max_drop:g})",
    )


def judge(evidence: GateEvidence) -> GateDecision:
    """The gate's verdict on a challenger."""
    return GateDecision(
        (_baseline_check(evidence), _floor_check(evidence), _champion_check(evidence))
    )
