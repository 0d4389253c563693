"""The promotion gate's three checks, as pure decisions on evidence."""

from __future__ import annotations

import math

from mlops_assets.policy.gate import (
    CHALLENGER_BEATS_BASELINE,
    CHALLENGER_MEETS_FLOOR,
    CHALLENGER_NOT_WORSE_THAN_CHAMPION,
    Comparison,
    GateEvidence,
    judge,
)


def evidence(**changes) -> GateEvidence:
    fields = {
        "metric": "roc_auc",
        "challenger_version": "2",
        "challenger_metric": 0.75,
        "baseline_metric": 0.5,
        "floor": 0.7,
        "max_drop": 0.01,
        "champion_version": "1",
        "comparison": Comparison(500, 0.74, 0.745, "test rows after v1's training data"),
    }
    return GateEvidence(**{**fields, **changes})


def test_a_good_challenger_passes_all_three_checks():
    decision = judge(evidence())
    assert decision.passed and decision.decision == "promoted"
    detail = decision.check(CHALLENGER_NOT_WORSE_THAN_CHAMPION).detail
    assert "0.7400 vs champion v1 0.7450 on 500 rows neither trained on" in detail
    assert "test rows after v1's training data" in detail


def test_worse_than_the_champion_on_shared_rows_beyond_the_margin_is_rejected():
    decision = judge(evidence(comparison=Comparison(500, 0.70, 0.745, "shared")))
    assert not decision.passed
    assert not decision.check(CHALLENGER_NOT_WORSE_THAN_CHAMPION).passed
    assert decision.check(CHALLENGER_BEATS_BASELINE).passed


def test_without_rows_neither_trained_on_the_gate_refuses_to_compare():
    for comparison in (None, Comparison(12, 0.9, 0.5, "few")):
        check = judge(evidence(comparison=comparison)).check(CHALLENGER_NOT_WORSE_THAN_CHAMPION)
        assert not check.passed and "no fair comparison" in check.detail


def test_the_first_model_needs_no_champion():
    decision = judge(evidence(champion_version=None, comparison=None))
    assert decision.passed
    assert "no champion yet" in decision.check(CHALLENGER_NOT_WORSE_THAN_CHAMPION).detail


def test_an_undefined_metric_never_passes():
    decision = judge(evidence(challenger_metric=math.nan, baseline_metric=math.nan))
    baseline = decision.check(CHALLENGER_BEATS_BASELINE)
    assert not baseline.passed and "cannot be computed" in baseline.detail
    assert not decision.check(CHALLENGER_MEETS_FLOOR).passed


def test_the_floor_is_checked_only_when_set():
    assert not judge(evidence(challenger_metric=0.69)).check(CHALLENGER_MEETS_FLOOR).passed
    assert judge(evidence(challenger_metric=0.69, floor=None)).check(CHALLENGER_MEETS_FLOOR).passed


def test_the_reason_names_the_trigger_and_every_check():
    reason = judge(evidence()).reason("drift")
    assert reason.startswith("drift: challenger_beats_baseline:")
    assert CHALLENGER_MEETS_FLOOR in reason and CHALLENGER_NOT_WORSE_THAN_CHAMPION in reason
