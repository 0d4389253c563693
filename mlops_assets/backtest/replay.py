"""Replaying history to compare retraining policies, with the production rules.

Starting from a model trained on the first `warmup` windows, each later window
is measured for the model of the day exactly as the drift asset measures it
(`policy/evidence.py`: rows it never saw, feature and score drift, realized
metric against its own per-window test metric), the production retraining
policy decides (`policy/retraining.py`), and a retrained challenger replaces
the champion only if the production gate passes it (`policy/gate.py`). Every
model is trained the platform's way: the spec's split rule (`training/split.py`,
by the spec's fractions, since fixed split dates would not move with the
history), the same trainer and the same features.

Policies: `never`; `scheduled` (a retraining every `schedule_every` windows,
gated); `drift` (the spec's retraining policy: debounce, concept drift and
cooldown in event time, gated). So the `drift` rows show what the drift sensor
would have done on this history.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import polars as pl

from mlops_assets.drift import DriftSettings
from mlops_assets.evaluation import (
    PRIMARY_METRIC,
    baseline_scores,
    primary_metric,
)
from mlops_assets.ingest.raw_batch import EVENT_TIME
from mlops_assets.policy.comparison import compare_on_rows
from mlops_assets.policy.evidence import (
    ChampionView,
    champion_view,
    expectations_of,
    measure_window,
    windows_of,
)
from mlops_assets.policy.gate import GateDecision, GateEvidence, judge
from mlops_assets.policy.retraining import Expectations, PolicyState, RetrainingPolicy, step
from mlops_assets.serving.reference import reference_sample
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import SPLIT, assign_split
from mlops_assets.training.trainer import TrainedBooster, feature_candidates, train_booster

POLICIES = ("never", "scheduled", "drift")


@dataclass(frozen=True)
class BacktestSettings:
    """`warmup_partitions`: windows the first model learns from before the replay starts; None
    means DEFAULT_WARMUP, or half the windows of a shorter history (so a launch with the
    defaults replays any spec with a few weeks of data)."""

    warmup_partitions: int | None = None
    schedule_every: int = 7

    def warmup(self, windows: int) -> int:
        if self.warmup_partitions is not None:
            return self.warmup_partitions
        return min(DEFAULT_WARMUP, windows // 2)


DEFAULT_WARMUP = 60


@dataclass(eq=False)
class Fitted:
    """A model trained the platform's way on one history, with what monitoring needs of it."""

    model: TrainedBooster
    test_rows: pl.DataFrame
    test_metric: float
    baseline_metric: float
    expected: Expectations
    data_through: dt.datetime
    view: ChampionView


def history_spec(spec: DatasetSpec) -> DatasetSpec:
    """The spec with its split by fractions: fixed split dates would not move with the history."""
    split = spec.split.model_copy(update={"valid_start": None, "test_start": None})
    return spec.model_copy(update={"split": split})


def fit(spec: DatasetSpec, history: pl.DataFrame, settings: DriftSettings) -> Fitted:
    """Split, train, evaluate and profile one history, as the training assets would."""
    frame, _ = assign_split(history_spec(spec), history)
    learnt = frame.filter(pl.col(SPLIT) != "test")
    model = train_booster(spec, learnt, feature_candidates(spec, learnt))
    task, target, encoding = spec.target.task, spec.target.column, model.encoding
    n_classes = len(encoding.classes) or None
    test = frame.filter(pl.col(SPLIT) == "test")
    labelled, labels = encoding.known_labels(test, target)
    scores = model.predict(labelled)
    train_labels = encoding.labels(frame.filter(pl.col(SPLIT) == "train"), target)
    test_metric = primary_metric(task, labels, scores, n_classes=n_classes)
    reference = reference_sample(frame.filter(pl.col(SPLIT) == "train"), settings.max_sample_rows)
    view = champion_view(spec, model, TrainingScope.of_training_set(spec, frame), reference)
    expected = expectations_of(view, windows_of(test, spec.time.grain), model.predict)
    return Fitted(
        model=model,
        test_rows=test,
        test_metric=test_metric,
        baseline_metric=primary_metric(
            task,
            labels,
            baseline_scores(task, train_labels, len(labels), n_classes),
            n_classes=n_classes,
        ),
        expected=expected,
        data_through=frame[EVENT_TIME].max(),
        view=view.expecting(expected),
    )


def gate(spec: DatasetSpec, champion: Fitted, challenger: Fitted, versions: int) -> GateDecision:
    """The production gate on a backtest challenger: its test rows the champion never saw."""
    unseen = champion.view.scope.unseen(challenger.test_rows)
    comparison = compare_on_rows(
        spec.target.task,
        spec.target.column,
        challenger.model,
        champion.model,
        unseen,
        "challenger's test split after the champion's training data",
    )
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    return judge(
        GateEvidence(
            metric=metric_name,
            challenger_version=str(versions + 1),
            challenger_metric=challenger.test_metric,
            baseline_metric=challenger.baseline_metric,
            floor=spec.quality.min_test_metric,
            max_drop=spec.promotion.max_metric_drop,
            champion_version=str(versions),
            comparison=comparison,
        )
    )


def replay_policy(
    spec: DatasetSpec,
    features: pl.DataFrame,
    policy: str,
    drift: DriftSettings,
    settings: BacktestSettings,
) -> pl.DataFrame:
    """One row per replayed window: metric, drift, the policy's decision, and any retraining."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    if spec.event_time is None:
        raise ValueError(f"spec `{spec.name}` has no time column: there is no history to replay")
    windows = windows_of(features, spec.time.grain)
    warmup = settings.warmup(len(windows))
    if warmup < 1 or len(windows) <= warmup + 1:
        raise ValueError(
            f"spec `{spec.name}`: {len(windows)} windows, need more than warmup {warmup} + 1"
        )
    rules = RetrainingPolicy.from_spec(spec)
    started = time.perf_counter()
    first_new = windows[warmup][0]
    champion = fit(spec, features.filter(pl.col(EVENT_TIME) < first_new), drift)
    warmup_seconds = time.perf_counter() - started
    state = PolicyState().after_training(champion.data_through)
    versions, since, rows = 1, 0, []
    for index, (start, end, frame) in enumerate(windows[warmup:]):
        tick = time.perf_counter()
        measured = measure_window(champion.view, start, end, frame, champion.model.predict)
        decision, state = step(rules, state, measured.evidence, champion.expected)
        monitor_seconds = time.perf_counter() - tick
        since += 1
        reason = ""
        if policy == "scheduled" and since >= settings.schedule_every:
            reason = f"schedule: {since} windows since the last training"
        elif policy == "drift" and decision.retrain:
            reason = decision.reason
        train_seconds, promoted, verdict = 0.0, False, ""
        if reason:
            tick = time.perf_counter()
            challenger = fit(spec, features.filter(pl.col(EVENT_TIME) < end), drift)
            outcome = gate(spec, champion, challenger, versions)
            state = state.after_training(challenger.data_through)
            promoted, verdict = outcome.passed, outcome.reason(policy)
            if promoted:
                champion, versions = challenger, versions + 1
                state = state.for_new_champion().with_rejections(0)
            else:
                state = state.with_rejections(state.rejected_in_a_row + 1)
            train_seconds = time.perf_counter() - tick
            since = 0
        rows.append(
            {
                "policy": policy,
                "partition": start.date(),
                "rows": frame.height,
                "metric": measured.realized if measured.realized is not None else math.nan,
                "expected_metric": champion.expected.metric,
                "drift_share": measured.evidence.drift_share,
                "drifted": decision.drifted,
                "unusual_share": measured.evidence.unusual_share,
                "decision": decision.action,
                "signal": decision.signal,
                "retrained": bool(reason),
                "promoted": promoted,
                "reason": reason,
                "gate": verdict,
                "monitor_seconds": monitor_seconds,
                "train_seconds": train_seconds + (warmup_seconds if index == 0 else 0.0),
            }
        )
    frame = pl.DataFrame(rows, infer_schema_length=None)
    # A column with no value in a short replay (no signal yet) is typed as text, not Null,
    # which Delta cannot store.
    return frame.with_columns(
        pl.col(name).cast(pl.String) for name, dtype in frame.schema.items() if dtype == pl.Null
    )


def summarize(results: pl.DataFrame) -> pl.DataFrame:
    """Per policy: retrains and promotions, realized metric (mean, worst window) and compute spent."""
    known = pl.col("metric").filter(pl.col("metric").is_not_nan())
    return results.group_by("policy", maintain_order=True).agg(
        pl.col("partition").count().alias("partitions"),
        pl.col("retrained").sum().alias("retrains"),
        pl.col("promoted").sum().alias("promotions"),
        known.mean().alias("mean_metric"),
        known.min().alias("worst_metric"),
        pl.col("train_seconds").sum().alias("train_seconds"),
        (pl.col("train_seconds") + pl.col("monitor_seconds")).sum().alias("compute_seconds"),
    )


def metric_plot_png(results: pl.DataFrame, metric_name: str, window: int = 7) -> bytes:
    """Realized metric over time (rolling mean), one line per policy, retrains marked."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4), dpi=90)
    # Policies that never diverge draw the same line: each gets its own dash and a narrower
    # width than the one before, so one never hides another.
    strokes = [("-", 4.0), ("--", 2.5), (":", 1.8), ("-.", 1.2)]
    groups = results.sort("partition").group_by(["policy"], maintain_order=True)
    for index, ((policy,), frame) in enumerate(groups):
        smooth = frame.with_columns(
            pl.col("metric").fill_nan(None).rolling_mean(window, min_samples=1).alias("smooth")
        )
        style, width = strokes[index % len(strokes)]
        (line,) = axis.plot(
            smooth["partition"].to_list(),
            smooth["smooth"].to_list(),
            label=policy,
            linestyle=style,
            linewidth=width,
        )
        retrained = smooth.filter(pl.col("retrained"))
        axis.scatter(
            retrained["partition"].to_list(),
            retrained["smooth"].to_list(),
            marker="|",
            s=300,
            linewidths=2,
            color=line.get_color(),
        )
    axis.set_ylabel(f"{metric_name} ({window}-partition rolling mean)")
    axis.set_title("Realized metric by retraining policy (ticks: retrains)")
    axis.legend()
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


__all__ = ["POLICIES", "BacktestSettings", "metric_plot_png", "replay_policy", "summarize"]
