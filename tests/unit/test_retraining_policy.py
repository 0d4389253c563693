"""The retraining policy: debounce, concept drift, cooldown in event time, and unmonitored windows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from mlops_assets.policy.retraining import (
    Expectations,
    PolicyState,
    RecordedSignal,
    RetrainingPolicy,
    WindowEvidence,
    due_signals,
    replay,
    step,
)

DAY = dt.timedelta(days=1)
START = dt.datetime(2024, 1, 1)
POLICY = RetrainingPolicy(
    drifted_windows_in_a_row=3,
    hard_drift_share=0.8,
    degraded_windows_in_a_row=2,
    max_metric_drop=0.05,
    cooldown=dt.timedelta(hours=72),
)


def window(day: int, share: float = 0.0, realized: float | None = 0.8, monitored: bool = True):
    """A window whose features drift beyond their usual severity in a share `share`."""
    return WindowEvidence(
        START + day * DAY,
        START + (day + 1) * DAY,
        monitored=monitored,
        drift_share=share if monitored else None,
        dataset_drift=share >= 0.5,
        realized_metric=realized if monitored else None,
        drifted_features=("a", "b") if share >= 0.5 else (),
        unusual_share=share if monitored else None,
        unusual_features=("a", "b") if share >= 0.5 else (),
    )


def yardstick(metric: float = 0.8, spread: float = 0.0):
    return Expectations(metric, spread, {}, 20)


def actions(windows, state: PolicyState | None = None, expected=0.8):
    decisions, _ = replay(POLICY, state or PolicyState(), windows, yardstick(expected))
    return [d.action for d in decisions]


def test_three_drifted_windows_in_a_row_raise_one_drift_signal():
    decisions, state = replay(
        POLICY, PolicyState(), [window(d, 0.6) for d in range(4)], yardstick()
    )
    assert [d.action for d in decisions] == ["watch", "watch", "retrain", "watch"]
    assert (
        decisions[2].signal == "drift"
        and "3 drifted windows in a row (a, b)" in decisions[2].reason
    )
    assert state.quiet_until == START + 3 * DAY + POLICY.cooldown


def test_a_calm_window_breaks_the_streak():
    assert actions([window(0, 0.6), window(1, 0.6), window(2), window(3, 0.6)]) == ["watch"] * 4


def test_one_far_out_window_is_hard_drift():
    decisions, _ = replay(POLICY, PolicyState(), [window(0, 0.9)], yardstick())
    assert decisions[0].signal == "hard_drift"
    assert decisions[0].reason.startswith("drift: share 0.90 >= 0.8")


def test_concept_drift_without_feature_drift_raises_a_performance_signal():
    """The observed failure: drift share just under the limit while the metric collapses."""
    windows = [window(d, share=0.43, realized=0.55) for d in range(3)]
    decisions, _ = replay(POLICY, PolicyState(), windows, yardstick(0.85))
    assert [d.action for d in decisions] == ["watch", "retrain", "watch"]
    assert decisions[1].signal == "performance"
    assert (
        "below 0.8000 (expected 0.8500) in 2 labelled windows in a row (latest"
        in decisions[1].reason
    )


def test_a_small_drop_is_noise_not_degradation():
    assert actions([window(d, realized=0.77) for d in range(5)], expected=0.80) == ["watch"] * 5


def test_windows_waiting_for_labels_neither_count_nor_break_the_degraded_streak():
    windows = [window(0, realized=0.5), window(1, realized=None), window(2, realized=0.5)]
    decisions, _ = replay(POLICY, PolicyState(), windows, yardstick(0.8))
    assert [d.action for d in decisions] == ["watch", "watch", "retrain"]
    assert decisions[1].degraded is None and decisions[1].degraded_in_a_row == 1


def test_the_cooldown_holds_signals_in_event_time_then_lets_them_through():
    windows = [window(d, 0.9) for d in range(6)]
    decisions, _ = replay(POLICY, PolicyState(), windows, yardstick(0.8))
    assert [d.action for d in decisions] == [
        "retrain",
        "cooldown",
        "cooldown",
        "cooldown",  # ends on Jan 5, the last moment of the 72 h after the first signal
        "retrain",
        "cooldown",
    ]
    assert "held by the cooldown until 2024-01-05 00:00" in decisions[1].reason


def test_windows_a_training_set_already_covers_raise_no_signal():
    state = PolicyState().after_training(START + 2 * DAY)
    assert actions([window(d, 0.9) for d in range(3)], state) == ["cooldown", "cooldown", "retrain"]


def test_windows_inside_the_champions_training_data_are_not_monitored():
    state = PolicyState(drifted_in_a_row=2)
    decision, after = step(POLICY, state, window(0, monitored=False), yardstick())
    assert decision.action == "not_monitored" and not decision.retrain
    assert after == state


def test_a_new_champion_restarts_the_streaks_but_keeps_the_cooldown():
    state = PolicyState(2, 1, START).for_new_champion()
    assert (state.drifted_in_a_row, state.degraded_in_a_row, state.quiet_until) == (0, 0, START)


def test_due_signals_drop_what_a_newer_training_covers_and_repeats():
    signals = [
        RecordedSignal("2024-01-02", START + 2 * DAY, "drift", ""),
        RecordedSignal("2024-01-02", START + 2 * DAY, "drift", ""),
        RecordedSignal("2024-01-09", START + 9 * DAY, "performance", ""),
    ]
    assert [s.window for s in due_signals(signals, None)] == ["2024-01-02", "2024-01-09"]
    assert [s.window for s in due_signals(signals, START + 5 * DAY)] == ["2024-01-09"]


def test_a_noisy_metric_needs_a_bigger_drop_than_its_spread():
    noisy = yardstick(0.80, spread=0.10)
    decisions, _ = replay(
        POLICY, PolicyState(), [window(d, realized=0.72) for d in range(3)], noisy
    )
    assert [d.action for d in decisions] == ["watch"] * 3
    decisions, _ = replay(
        POLICY, PolicyState(), [window(d, realized=0.65) for d in range(2)], noisy
    )
    assert decisions[-1].signal == "performance"


def test_drift_as_usual_as_in_the_test_windows_is_not_drift():
    """A seasonal table: every month drifts from the whole year; the test months did too."""
    seasonal = replace(window(0, 1.0), unusual_share=0.0, unusual_features=())
    decisions, _ = replay(POLICY, PolicyState(), [seasonal] * 1, yardstick())
    assert decisions[0].action == "watch" and not decisions[0].drifted


def test_usual_severity_is_mean_plus_three_deviations_of_the_test_windows():
    expected = Expectations.from_windows(
        [0.8, 0.7, 0.9], {"temp": [2.0, 3.0, 4.0], "wind": [0.5, float("inf")]}
    )
    assert expected.metric == pytest.approx(0.8)
    assert expected.metric_spread == pytest.approx(0.1)
    assert expected.usual_severity["temp"] == pytest.approx(3.0 + 3 * 1.0)
    assert expected.usual_severity["wind"] == pytest.approx(0.5)
    assert expected.windows == 3


def test_expectations_survive_their_record():
    expected = Expectations(0.71, 0.04, {"temp": 3.5}, 92)
    assert Expectations.from_dict(expected.to_dict(), None) == expected
    assert Expectations.from_dict(None, 0.7) == Expectations(metric=0.7)
