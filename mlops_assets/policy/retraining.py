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
2. The yardstick is the champion's own test windows (`Expectations`), measured
   as monitoring measures a window: their mean per-window metric and its spread,
   and per feature the drift severity that is usual between training and a test
   window (mean + 3 standard deviations over the test windows, as NannyML sets
   its thresholds on reference chunks). A noisy day is compared with typical
   test days, not with a pooled quarter, and a seasonal table whose every month
   differs from the whole year does not count as drifting every month.
3. A window is *degraded* when its realized metric is more than
   `max(max_metric_drop, metric spread)` below the expected metric, and
   *drifted* when the share of features drifting beyond their usual severity
   (`unusual_share`) reaches `dataset_drift_share`. `drifted_in_a_row` counts
   consecutive drifted monitored windows; `degraded_in_a_row` counts consecutive
   degraded *labelled* windows (a window still waiting for labels leaves that
   count as it is).
4. A signal is raised when `degraded_in_a_row` reaches `degraded_windows_in_a_row`
   (performance: the world changed under the model, concept drift), when
   `drifted_in_a_row` reaches `drifted_windows_in_a_row` (drift), or when one
   window's unusual share reaches `hard_drift_share` (hard drift). Performance is
   named first when several hold.
5. Cooldown, in event time: no signal for a window that ends before
   `quiet_until`, which is the later of `cooldown` after the last signal and the
   newest row of the last model's training set (its test window included: the
   gate has already judged the model on those rows). A signal held back is
   recorded as `cooldown`.
6. A signal resets both counts and starts the cooldown. Each retraining in a row
   that the gate rejected doubles the next cooldown (once: at most twice the
   cooldown): when retraining does not help, the policy pays for it half as often.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mlops_assets.specs.model import DatasetSpec

Action = Literal["retrain", "cooldown", "watch", "not_monitored"]
Signal = Literal["performance", "drift", "hard_drift"]
COOLDOWN_WINDOWS = 3
WINDOW_LENGTH = {
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(weeks=1),
    "monthly": dt.timedelta(days=30),
}
MAX_BACKOFF_DOUBLINGS = 1
USUAL_SPREADS = 3.0
"""A feature's drift is unusual beyond its test windows' mean severity plus this many deviations."""


def _mean_and_spread(values: list[float]) -> tuple[float | None, float]:
    if not values:
        return None, 0.0
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


@dataclass(frozen=True)
class Expectations:
    """What the champion's own test windows looked like, measured as monitoring measures a window."""

    metric: float | None = None
    metric_spread: float = 0.0
    usual_severity: Mapping[str, float] = field(default_factory=dict)
    windows: int = 0

    @classmethod
    def from_windows(
        cls, metrics: list[float], severities: Mapping[str, list[float]]
    ) -> Expectations:
        """From the realized metric of each test window and each feature's drift severities."""
        metric, spread = _mean_and_spread(metrics)
        usual = {}
        for feature, values in severities.items():
            finite = [v for v in values if math.isfinite(v)]
            mean, deviation = _mean_and_spread(finite)
            if mean is not None:
                usual[feature] = mean + USUAL_SPREADS * deviation
        return cls(metric, spread, usual, len(metrics))

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "metric_spread": self.metric_spread,
            "usual_severity": dict(self.usual_severity),
            "windows": self.windows,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, fallback_metric: float | None
    ) -> Expectations:
        """Read back `to_dict`; a version without it is judged against its test metric."""
        if not data:
            return cls(metric=fallback_metric)
        return cls(
            data.get("metric"),
            float(data.get("metric_spread") or 0.0),
            dict(data.get("usual_severity") or {}),
            int(data.get("windows") or 0),
        )

    def to_metrics(self) -> dict[str, float]:
        """The headline numbers, for the model version's run (logged with a `test_` prefix)."""
        if self.metric is None:
            return {}
        return {
            "window_metric_mean": float(self.metric),
            "window_metric_std": float(self.metric_spread),
            "windows": float(self.windows),
        }

    def describe(self) -> str:
        if self.metric is None:
            return "no test window measured"
        return (
            f"{self.windows} test windows: metric {self.metric:.4f} ± {self.metric_spread:.4f}; "
            f"usual drift severity known for {len(self.usual_severity)} features"
        )


@dataclass(frozen=True)
class RetrainingPolicy:
    """The spec's retraining rules (sections `retraining` and `drift`)."""

    drifted_windows_in_a_row: int = 3
    hard_drift_share: float = 0.8
    degraded_windows_in_a_row: int = 3
    max_metric_drop: float = 0.05
    dataset_drift_share: float = 0.5
    cooldown: dt.timedelta = dt.timedelta(hours=72)

    @classmethod
    def from_spec(cls, spec: DatasetSpec) -> RetrainingPolicy:
        rules = spec.retraining
        if rules.cooldown_hours is not None:
            cooldown = dt.timedelta(hours=rules.cooldown_hours)
        else:
            grain = spec.event_time.grain if spec.event_time else "daily"
            cooldown = COOLDOWN_WINDOWS * WINDOW_LENGTH[grain]
        return cls(
            drifted_windows_in_a_row=rules.drifted_partitions_in_a_row,
            hard_drift_share=rules.hard_drift_share,
            degraded_windows_in_a_row=rules.degraded_windows_in_a_row,
            max_metric_drop=spec.drift.max_metric_drop,
            dataset_drift_share=spec.drift.dataset_drift_share,
            cooldown=cooldown,
        )

    def cooldown_after(self, rejected_in_a_row: int) -> dt.timedelta:
        """The cooldown, doubled after a retraining the gate rejected (`MAX_BACKOFF_DOUBLINGS`).

        On the rainfall and flights backtests one doubling cut retrains by a third at the
        same realized metric; more doublings saved more compute but delayed recovery."""
        return self.cooldown * 2 ** min(rejected_in_a_row, MAX_BACKOFF_DOUBLINGS)

    def metric_floor(self, expected: Expectations) -> float | None:
        """Below this realized metric a window is degraded."""
        if expected.metric is None or math.isnan(expected.metric):
            return None
        return expected.metric - max(self.max_metric_drop, expected.metric_spread)

    def degraded(self, realized: float | None, expected: Expectations) -> bool | None:
        """Whether a realized metric is a real drop; None when either side is unknown."""
        floor = self.metric_floor(expected)
        if realized is None or floor is None or math.isnan(realized):
            return None
        return realized < floor

    def drifted(self, window: WindowEvidence) -> bool:
        """Enough features drifted beyond what the champion's test windows showed."""
        share = window.unusual_share
        return share is not None and share >= self.dataset_drift_share


@dataclass(frozen=True)
class WindowEvidence:
    """What monitoring measured in one window, on the rows the champion never saw.

    `drift_share` and `drifted_features` are by each feature's drift test alone;
    `unusual_share` and `unusual_features` keep only features drifting beyond
    their usual severity (`Expectations.usual_severity`).
    """

    start: dt.datetime
    end: dt.datetime
    monitored: bool
    drift_share: float | None = None
    dataset_drift: bool = False
    realized_metric: float | None = None
    drifted_features: tuple[str, ...] = ()
    unusual_share: float | None = None
    unusual_features: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between windows."""

    drifted_in_a_row: int = 0
    degraded_in_a_row: int = 0
    quiet_until: dt.datetime | None = None
    rejected_in_a_row: int = 0

    def with_rejections(self, rejected_in_a_row: int) -> PolicyState:
        """How many retrainings in a row the gate turned down since the champion was promoted."""
        return replace(self, rejected_in_a_row=rejected_in_a_row)

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
    signal: Signal | None = None
    reason: str = ""
    degraded: bool | None = None
    drifted: bool | None = None
    drifted_in_a_row: int = 0
    degraded_in_a_row: int = 0

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"


def _signal(
    policy: RetrainingPolicy,
    window: WindowEvidence,
    drifted_now: bool,
    drifted: int,
    degraded: int,
    expected: Expectations,
) -> tuple[Signal | None, str]:
    if degraded >= policy.degraded_windows_in_a_row:
        latest = window.realized_metric
        shown = f"latest {latest:.4f}" if latest is not None else "this window awaits its labels"
        return "performance", (
            f"performance: realized metric below {policy.metric_floor(expected):.4f} (expected "
            f"{expected.metric:.4f}) in {degraded} labelled windows in a row ({shown})"
        )
    named = window.unusual_features[:3]
    features = f" ({', '.join(named)})" if named else ""
    if drifted >= policy.drifted_windows_in_a_row:
        return "drift", f"drift: {drifted} drifted windows in a row{features}"
    share = window.unusual_share
    if drifted_now and share is not None and share >= policy.hard_drift_share:
        return "hard_drift", f"drift: share {share:.2f} >= {policy.hard_drift_share:g}{features}"
    return None, ""


def step(
    policy: RetrainingPolicy,
    state: PolicyState,
    window: WindowEvidence,
    expected: Expectations,
) -> tuple[Decision, PolicyState]:
    """Decide one window (see the module's rules) and return the state for the next one."""
    if not window.monitored:
        decision = Decision(
            window.start,
            window.end,
            "not_monitored",
            reason="inside the champion's training data: not monitored",
            drifted_in_a_row=state.drifted_in_a_row,
            degraded_in_a_row=state.degraded_in_a_row,
        )
        return decision, state
    drifted_now = policy.drifted(window)
    drifted = state.drifted_in_a_row + 1 if drifted_now else 0
    degraded_now = policy.degraded(window.realized_metric, expected)
    if degraded_now is None:
        degraded = state.degraded_in_a_row
    else:
        degraded = state.degraded_in_a_row + 1 if degraded_now else 0
    signal, reason = _signal(policy, window, drifted_now, drifted, degraded, expected)
    counts = {
        "degraded": degraded_now,
        "drifted": drifted_now,
        "drifted_in_a_row": drifted,
        "degraded_in_a_row": degraded,
    }
    counted = replace(state, drifted_in_a_row=drifted, degraded_in_a_row=degraded)
    if signal is None:
        return Decision(window.start, window.end, "watch", **counts), counted
    if state.quiet_until is not None and window.end <= state.quiet_until:
        held = f"{reason}; held by the cooldown until {state.quiet_until:%Y-%m-%d %H:%M}"
        return Decision(window.start, window.end, "cooldown", signal, held, **counts), counted
    decision = Decision(window.start, window.end, "retrain", signal, reason, **counts)
    cooldown = policy.cooldown_after(state.rejected_in_a_row)
    return decision, PolicyState(0, 0, window.end + cooldown, state.rejected_in_a_row)


def replay(
    policy: RetrainingPolicy,
    state: PolicyState,
    windows: Iterable[WindowEvidence],
    expected: Expectations,
) -> tuple[list[Decision], PolicyState]:
    """`step` over windows in order (no retraining in between): the decisions and the final state."""
    decisions = []
    for window in sorted(windows, key=lambda w: w.start):
        decision, state = step(policy, state, window, expected)
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
