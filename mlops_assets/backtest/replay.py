"""Replaying history to compare retraining policies.

Starting from a model trained on the first `warmup` partitions, each later
partition is scored by the model of the day, its realized metric is measured
against its labels, its drift is measured against that model's training rows,
and the policy decides whether to retrain (on every partition seen so far)
before the next one. The result says, per policy, when and why it retrained,
what accuracy it got, and what compute it spent.

Policies: `never`; `scheduled` (every `schedule_every` partitions); `drift`
(the spec's debounce: `retraining.drifted_partitions_in_a_row` drifted
partitions in a row, or one with drift share of at least
`retraining.hard_drift_share`, and not within the cooldown).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from mlops_assets.drift import DriftSettings, column_drift, dataset_drift
from mlops_assets.evaluation import PRIMARY_METRIC, task_metrics
from mlops_assets.ingest.raw_batch import PARTITION
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.split import SPLIT
from mlops_assets.training.trainer import TrainedBooster, feature_candidates, train_booster

POLICIES = ("never", "scheduled", "drift")
GRAIN_HOURS = {"daily": 24, "weekly": 24 * 7, "monthly": 24 * 30}
MIN_LABELLED_ROWS = 30


@dataclass(frozen=True)
class BacktestSettings:
    warmup_partitions: int = 60
    schedule_every: int = 7
    valid_fraction: float = 0.15


def _fit(spec: DatasetSpec, history: pl.DataFrame, settings: BacktestSettings) -> TrainedBooster:
    partitions = history[PARTITION].unique().sort()
    n_valid = max(1, math.ceil(len(partitions) * settings.valid_fraction))
    valid_start = partitions[-n_valid]
    frame = history.with_columns(
        pl.when(pl.col(PARTITION) >= valid_start)
        .then(pl.lit("valid"))
        .otherwise(pl.lit("train"))
        .alias(SPLIT)
    )
    return train_booster(spec, frame, feature_candidates(spec, history))


def _metric(spec: DatasetSpec, model: TrainedBooster, rows: pl.DataFrame) -> float:
    labelled, labels = model.encoding.known_labels(rows, spec.target.column)
    if len(labels) < MIN_LABELLED_ROWS or (
        spec.target.task != "regression" and len(np.unique(labels)) < 2
    ):
        return float("nan")
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    n_classes = len(model.encoding.classes) or None
    scores = model.predict(labelled)
    return task_metrics(spec.target.task, labels, scores, n_classes=n_classes)[metric_name]


def _reference(history: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    if max_rows is not None and history.height > max_rows:
        return history.sample(n=max_rows, seed=13)
    return history


def replay_policy(
    spec: DatasetSpec,
    features: pl.DataFrame,
    policy: str,
    drift: DriftSettings,
    settings: BacktestSettings,
) -> pl.DataFrame:
    """One row per replayed partition: metric, drift, and whether (and why) the policy retrained after it."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    if spec.time is None:
        raise ValueError(f"spec `{spec.name}` has no time column: there is no history to replay")
    features = features.sort(PARTITION)
    partitions = features[PARTITION].unique().sort().to_list()
    if len(partitions) <= settings.warmup_partitions + 1:
        raise ValueError(
            f"spec `{spec.name}`: {len(partitions)} partitions, need more than warmup {settings.warmup_partitions} + 1"
        )
    cooldown = math.ceil(spec.retraining.cooldown_hours / GRAIN_HOURS[spec.time.grain])
    by_partition = features.partition_by(PARTITION, as_dict=True, maintain_order=True)
    started = time.perf_counter()
    history = features.filter(pl.col(PARTITION) < partitions[settings.warmup_partitions])
    model = _fit(spec, history, settings)
    train_seconds = time.perf_counter() - started
    reference = _reference(history, drift.max_sample_rows)
    last_retrain, streak, rows = settings.warmup_partitions - 1, 0, []
    for index in range(settings.warmup_partitions, len(partitions)):
        partition = partitions[index]
        day = by_partition[(partition,)]
        tick = time.perf_counter()
        metric = _metric(spec, model, day)
        report = column_drift(
            reference, day, model.encoding.features, model.encoding.categorical, drift
        )
        share, drifted = dataset_drift(report, drift)
        monitor_seconds = time.perf_counter() - tick
        streak = streak + 1 if drifted else 0
        since = index - last_retrain
        reason = ""
        if policy == "scheduled" and since >= settings.schedule_every:
            reason = f"schedule: {since} partitions since the last training"
        elif policy == "drift" and since > cooldown:
            if streak >= spec.retraining.drifted_partitions_in_a_row:
                reason = f"drift: {streak} drifted partitions in a row"
            elif share >= spec.retraining.hard_drift_share:
                reason = f"drift: share {share:.2f} >= {spec.retraining.hard_drift_share}"
            if reason:
                top = report.filter(pl.col("drifted"))["column"].head(3).to_list()
                reason += f" ({', '.join(top)})" if top else ""
        retrain_seconds = 0.0
        if reason:
            tick = time.perf_counter()
            history = features.filter(pl.col(PARTITION) <= partition)
            model = _fit(spec, history, settings)
            reference = _reference(history, drift.max_sample_rows)
            retrain_seconds = time.perf_counter() - tick
            last_retrain, streak = index, 0
        rows.append(
            {
                "policy": policy,
                "partition": partition,
                "rows": day.height,
                "metric": metric,
                "drift_share": share,
                "drifted": drifted,
                "retrained": bool(reason),
                "reason": reason,
                "monitor_seconds": monitor_seconds,
                "train_seconds": retrain_seconds
                + (train_seconds if index == settings.warmup_partitions else 0.0),
            }
        )
    return pl.DataFrame(rows)


def summarize(results: pl.DataFrame) -> pl.DataFrame:
    """Per policy: retrains, realized metric (mean, worst partition) and compute spent."""
    return results.group_by("policy", maintain_order=True).agg(
        pl.col("partition").count().alias("partitions"),
        pl.col("retrained").sum().alias("retrains"),
        pl.col("metric").filter(pl.col("metric").is_not_nan()).mean().alias("mean_metric"),
        pl.col("metric").filter(pl.col("metric").is_not_nan()).min().alias("worst_metric"),
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
    for (policy,), frame in results.sort("partition").group_by(["policy"], maintain_order=True):
        smooth = frame.with_columns(
            pl.col("metric").fill_nan(None).rolling_mean(window, min_samples=1).alias("smooth")
        )
        axis.plot(smooth["partition"].to_list(), smooth["smooth"].to_list(), label=policy)
        retrained = smooth.filter(pl.col("retrained"))
        axis.scatter(
            retrained["partition"].to_list(), retrained["smooth"].to_list(), marker="|", s=80
        )
    axis.set_ylabel(f"{metric_name} ({window}-partition rolling mean)")
    axis.set_title("Realized metric by retraining policy (ticks: retrains)")
    axis.legend()
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
