"""The retraining policy: when monitoring adds up to a reason to retrain.

`step` decides one window at a time, in event-time order, from the window's
evidence and a small state carried from the windows before it. The drift asset
calls it for every window it monitors and records the decision; the drift sensor
acts on the recorded signals that are still due (`due_signals`); the policy
backtest replays history through the same `step`. So the three make the same
decision on the same evidence.

The rules, in order:

1. A window with no row the champion never trained on is not monitored: nothing
   is decided and the state is unchanged (its numbers would flatter the model).
2. `drifted_in_a_row` counts consecutive monitored windows with dataset drift.
   `degraded_in_a_row` counts consecutive *labelled* windows whose realized metric
   is more than `max_metric_drop` below the champion's expected metric (its mean
   per-window metric on its own test windows: the same grain, so a noisy day is
   not compared with a pooled quarter). A window still waiting for labels leaves
   that count as it is.
3. A signal is raised when `degraded_in_a_row` reaches `degraded_windows_in_a_row`
   (performance: the world changed under the model, concept drift), when
   `drifted_in_a_row` reaches `drifted_windows_in_a_row` (drift), or when one
   window's drift share reaches `hard_drift_share` (hard drift). Performance is
   named first when several hold.
4. Cooldown, in event time: no signal for a window that ends before
   `quiet_until`, which is the later of `cooldown` after the last signal and the
   newest row of the last model's training set (its test window included: the
   gate has already judged the model on those rows). A signal held back is
   recorded as `cooldown`.
5. A signal resets both counts and starts the cooldown.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from mlops_assets.specs.model import DatasetSpec

Action = Literal["retrain", "cooldown", "watch", "not_monitored"]
Signal = Literal["performance", "drift", "hard_drift"]


@dataclass(frozen=True)
class RetrainingPolicy:
    """The spec's retraining rules (sections `retraining` and `drift.max_metric_drop`)."""

    drifted_windows_in_a_row: int = 3
    hard_drift_share: float = 0.8
    degraded_windows_in_a_row: int = 3
    max_metric_drop: float = 0.05
    cooldown: dt.timedelta = dt.timedelta(hours=72)

    @classmethod
    def from_spec(cls, spec: DatasetSpec) -> RetrainingPolicy:
        rules = spec.retraining
        return cls(
            drifted_windows_in_a_row=rules.drifted_partitions_in_a_row,
            hard_drift_share=rules.hard_drift_share,
            degraded_windows_in_a_row=rules.degraded_windows_in_a_row,
            max_metric_drop=spec.drift.max_metric_drop,
            cooldown=dt.timedelta(hours=rules.cooldown_hours),
        )

    def degraded(self, realized: float | None, expected: float | None) -> bool | None:
        """Whether a realized metric is a real drop; None when either side is unknown."""
        if realized is None or expected is None or math.isnan(realized) or math.isnan(expected):
            return None
        return realized < expected - self.max_metric_drop


@dataclass(frozen=True)
class WindowEvidence:
    """What monitoring measured in one window, on the rows the champion never saw."""

    start: dt.datetime
    end: dt.datetime
    monitored: bool
    drift_share: float | None = None
    dataset_drift: bool = False
    realized_metric: float | None = None
    drifted_features: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between windows."""

    drifted_in_a_row: int = 0
    degraded_in_a_row: int = 0
    quiet_until: dt.datetime | None = None

    def after_training(self, data_through: dt.datetime | None) -> PolicyState:
        """No signal on windows a training set with rows up to `data_through` already covers."""
        if data_through is None or (
            self.quiet_until is not None and self.quiet_until >= data_through
        ):
            return self
        return replace(self, quiet_until=data_through)

    def for_new_champion(self) -> PolicyState:
        """A new champion starts its streaks from zero (its reference is new); the cooldown stays."""
        return replace(self, drifted_in_a_row=0, degraded_in_a_row=0)


@dataclass(frozen=True)
class Decision:
    """The policy's verdict on one window, with its reason."""

    window_start: dt.datetime
    window_end: dt.datetime
    action: Action
    signal: Signal | None
    reason: str
    degraded: bool | None
    drifted_in_a_row: int
    degraded_in_a_row: int

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"


def _signal(
    policy: RetrainingPolicy,
    window: WindowEvidence,
    drifted: int,
    degraded: int,
    expected: float | None,
) -> tuple[Signal | None, str]:
    if degraded >= policy.degraded_windows_in_a_row:
        return "performance", (
            f"performance: realized metric more than {policy.max_metric_drop:g} below the expected "
            f"{expected:.4f} in {degraded} labelled windows in a row (latest {window.realized_metric:.4f})"
        )
    features = f" ({', '.join(window.drifted_features[:3])})" if window.drifted_features else ""
    if drifted >= policy.drifted_windows_in_a_row:
        return "drift", f"drift: {drifted} drifted windows in a row{features}"
    share = window.drift_share
    if share is not None and share >= policy.hard_drift_share:
        return "hard_drift", f"drift: share {share:.2f} >= {policy.hard_drift_share:g}{features}"
    return None, ""


def step(
    policy: RetrainingPolicy,
    state: PolicyState,
    window: WindowEvidence,
    expected_metric: float | None,
) -> tuple[Decision, PolicyState]:
    """Decide one window (see the module's rules) and return the state for the next one."""
    if not window.monitored:
        decision = Decision(
            window.start,
            window.end,
            "not_monitored",
            None,
            "inside the champion's training data: not monitored",
            None,
            state.drifted_in_a_row,
            state.degraded_in_a_row,
        )
        return decision, state
    drifted = state.drifted_in_a_row + 1 if window.dataset_drift else 0
    degraded_now = policy.degraded(window.realized_metric, expected_metric)
    if degraded_now is None:
        degraded = state.degraded_in_a_row
    else:
        degraded = state.degraded_in_a_row + 1 if degraded_now else 0
    signal, reason = _signal(policy, window, drifted, degraded, expected_metric)
    counted = replace(state, drifted_in_a_row=drifted, degraded_in_a_row=degraded)
    if signal is None:
        decision = Decision(
            window.start, window.end, "watch", None, "", degraded_now, drifted, degraded
        )
        return decision, counted
    if state.quiet_until is not None and window.end <= state.quiet_until:
        held = f"{reason}; held by the cooldown until {state.quiet_until:%Y-%m-%d %H:%M}"
        decision = Decision(
            window.start, window.end, "cooldown", signal, held, degraded_now, drifted, degraded
        )
        return decision, counted
    decision = Decision(
        window.start, window.end, "retrain", signal, reason, degraded_now, drifted, degraded
    )
    return decision, PolicyState(0, 0, window.end + policy.cooldown)


def replay(
    policy: RetrainingPolicy,
    state: PolicyState,
    windows: Iterable[WindowEvidence],
    expected_metric: float | None,
) -> tuple[list[Decision], PolicyState]:
    """`step` over windows in order (no retraining in between): the decisions and the final state."""
    decisions = []
    for window in sorted(windows, key=lambda w: w.start):
        decision, state = step(policy, state, window, expected_metric)
        decisions.append(decision)
    return decisions, state


@dataclass(frozen=True)
class RecordedSignal:
    """A retrain signal as the drift asset recorded it."""

    window: str
    window_end: dt.datetime
    signal: str
    reason: str
    drifted_features: tuple[str, ...] = ()


def due_signals(
    signals: Iterable[RecordedSignal], newest_training_data: dt.datetime | None
) -> list[RecordedSignal]:
    """The recorded signals still worth a retraining: newest last, one per window.

    A signal whose window ends before the newest row a model has already been
    trained on is covered by that training (a schedule or another signal came first).
    """
    unique = {s.window: s for s in signals}
    due = [
        s
        for s in unique.values()
        if newest_training_data is None or s.window_end > newest_training_data
    ]
    return sorted(due, key=lambda s: s.window_end)
