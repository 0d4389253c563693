"""Spec states turned into Prometheus metric families (names, types, labels and help text).

Every metric carries the label `spec`. A family is emitted even when no spec has
a value for it yet, so dashboards and alert rules always find the name.

Naming follows Prometheus: shares from 0 to 1 end in `_ratio`, times in `_seconds`,
counters in `_total`; a quantile of one run is its own gauge (`..._p50_seconds`), never a
`quantile` label (which belongs to a Summary); and the latest run's score distribution is
a set of gauges, not a histogram (a histogram's buckets may only grow).
"""

from collections.abc import Callable, Iterable

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from mlops_assets.monitoring.spec_state import SpecState

PREFIX = "mlops"


def _gauge(
    name: str,
    documentation: str,
    labels: list[str],
    states: Iterable[SpecState],
    values: Callable[[SpecState], Iterable[tuple[list[str], float | None]]],
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=["spec", *labels])
    for state in states:
        for label_values, value in values(state):
            if value is not None:
                family.add_metric([state.spec, *label_values], float(value))
    return family


def _one(value: float | bool | None) -> list[tuple[list[str], float | None]]:
    return [([], None if value is None else float(value))]


def champion_families(states: list[SpecState]) -> list[Metric]:
    return [
        _gauge(
            "champion_version",
            "Model version the MLflow alias `champion` points at (the serving model).",
            ["model"],
            states,
            lambda s: [([s.champion.model_name], s.champion.version)] if s.champion else [],
        ),
        _gauge(
            "champion_test_metric",
            "The champion's primary test metric (ROC AUC, macro F1 or R2) as logged at evaluation.",
            ["metric"],
            states,
            lambda s: [([s.metric], s.champion.test_metric)] if s.champion else [],
        ),
        _gauge(
            "champion_metric_floor",
            "The spec's floor on the primary test metric (quality.min_test_metric), when set.",
            ["metric"],
            states,
            lambda s: [([s.metric], s.metric_floor)],
        ),
    ]


def validation_families(states: list[SpecState]) -> list[Metric]:
    return [
        _gauge(
            "validation_valid_rows",
            "Rows that kept every rule in the latest validated window (a range run counts its whole range).",
            [],
            states,
            lambda s: _one(s.validation.valid_rows if s.validation else None),
        ),
        _gauge(
            "validation_rejected_rows",
            "Rows rejected by a validation rule in the latest validated window.",
            [],
            states,
            lambda s: _one(s.validation.rejected_rows if s.validation else None),
        ),
        _gauge(
            "validation_rejected_ratio",
            "Share of the latest window's rows that broke a validation rule, 0 to 1 (rows "
            "rejected only for a missing label do not count): what quality.max_rejected_share limits.",
            [],
            states,
            lambda s: _one(s.validation.rule_breaking_ratio if s.validation else None),
        ),
        _gauge(
            "validation_rejected_ratio_limit",
            "The spec's limit on the rejected ratio (quality.max_rejected_share), 0 to 1.",
            [],
            states,
            lambda s: _one(s.rejected_share_limit),
        ),
    ]


QUANTILES = ("p05", "p25", "p50", "p75", "p95")


def _score_quantile(name: str) -> Callable[[SpecState], list[tuple[list[str], float | None]]]:
    return lambda s: _one(s.scoring.score_quantiles.get(name) if s.scoring else None)


def scoring_families(states: list[SpecState]) -> list[Metric]:
    return [
        _gauge(
            "scoring_last_success_timestamp_seconds",
            "Unix time of the latest successful scoring (the predictions asset materialized).",
            [],
            states,
            lambda s: _one(s.scoring.finished_at if s.scoring else None),
        ),
        _gauge(
            "scoring_rows",
            "Rows scored by the latest scoring run.",
            [],
            states,
            lambda s: _one(s.scoring.rows if s.scoring else None),
        ),
        _gauge(
            "scoring_model_version",
            "Model version that the latest scoring run used.",
            [],
            states,
            lambda s: _one(s.scoring.model_version if s.scoring else None),
        ),
        _gauge(
            "scoring_duration_seconds",
            "Seconds the latest scoring run spent scoring its rows (throughput: "
            "mlops_scoring_rows / mlops_scoring_duration_seconds).",
            [],
            states,
            lambda s: _one(s.scoring.duration_seconds if s.scoring else None),
        ),
        _gauge(
            "scoring_batch_latency_p50_seconds",
            "Median latency of scoring one 10,000-row batch in the latest scoring run.",
            [],
            states,
            lambda s: _one(_seconds(s.scoring.latency_p50_ms) if s.scoring else None),
        ),
        _gauge(
            "scoring_batch_latency_p95_seconds",
            "95th percentile latency of scoring one 10,000-row batch in the latest scoring run.",
            [],
            states,
            lambda s: _one(_seconds(s.scoring.latency_p95_ms) if s.scoring else None),
        ),
        _gauge(
            "scoring_unseen_category_values",
            "Category values the champion never saw in training, in the latest scoring run.",
            [],
            states,
            lambda s: _one(s.scoring.unseen_category_values if s.scoring else None),
        ),
        _gauge(
            "scoring_out_of_range_values",
            "Numeric values outside the champion's training range, in the latest scoring run.",
            [],
            states,
            lambda s: _one(s.scoring.out_of_range_values if s.scoring else None),
        ),
        *[
            _gauge(
                f"prediction_score_{q}",
                f"{q[1:].lstrip('0')}th percentile of the latest scoring run's scores "
                "(binary: positive-class probability; regression: the prediction).",
                [],
                states,
                _score_quantile(q),
            )
            for q in QUANTILES
        ],
        _gauge(
            "prediction_score_mean",
            "Mean of the latest scoring run's scores (binary and regression).",
            [],
            states,
            lambda s: _one(s.scoring.score_mean if s.scoring else None),
        ),
        _gauge(
            "prediction_class_ratio",
            "Share of rows predicted as each class in the latest scoring run, 0 to 1 (multiclass).",
            ["class"],
            states,
            lambda s: [([c], v) for c, v in s.scoring.class_shares.items()] if s.scoring else [],
        ),
        _gauge(
            "prediction_score_bucket_ratio",
            "The latest scoring run's score distribution: share of its rows (0 to 1) whose score "
            "falls in the bucket ending at `upper_bound` (per bucket, not cumulative; binary and "
            "multiclass: 0.1-wide probability buckets; regression: ten buckets of the run's range). "
            "A snapshot that each run replaces.",
            ["upper_bound"],
            states,
            lambda s: (
                [([bound], ratio) for bound, ratio in s.scoring.histogram.ratios()]
                if s.scoring and s.scoring.histogram
                else []
            ),
        ),
    ]


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else round(milliseconds / 1000, 9)  # no 1e-18 noise


def drift_families(states: list[SpecState], top_features: int) -> list[Metric]:
    def top(state: SpecState) -> list[tuple[list[str], float]]:
        if not state.drift:
            return []
        ranked = sorted(state.drift.feature_severity.items(), key=lambda kv: kv[1], reverse=True)
        return [([feature], value) for feature, value in ranked[:top_features]]

    return [
        _gauge(
            "drift_features_drifted_ratio",
            "Share of features that drifted in the latest drift window (0 to 1).",
            [],
            states,
            lambda s: _one(s.drift.drift_share if s.drift else None),
        ),
        _gauge(
            "drift_dataset_drift",
            "1 when the latest window has dataset drift (drift share at or above the spec's limit).",
            [],
            states,
            lambda s: _one(s.drift.dataset_drift if s.drift else None),
        ),
        _gauge(
            "drift_retrain_signal",
            "1 when the debounced drift signal asks for retraining (what the drift sensor acts on).",
            [],
            states,
            lambda s: _one(s.drift.retrain_signal if s.drift else None),
        ),
        _gauge(
            "drift_windows_in_a_row",
            "Drifted windows in a row, the latest included.",
            [],
            states,
            lambda s: _one(s.drift.drifted_in_a_row if s.drift else None),
        ),
        _gauge(
            "prediction_drift_score",
            "Drift score of the champion's predictions against its training-time scores.",
            [],
            states,
            lambda s: _one(s.drift.prediction_drift_score if s.drift else None),
        ),
        _gauge(
            "feature_drift_severity",
            "Drift score over its method's threshold for the most drifted features "
            "(1 means at the threshold).",
            ["feature"],
            states,
            top,
        ),
        _gauge(
            "drift_last_timestamp_seconds",
            "Unix time of the latest drift window.",
            [],
            states,
            lambda s: _one(s.drift.finished_at if s.drift else None),
        ),
        _gauge(
            "realized_metric",
            "The champion's primary metric measured on the latest drift window's labels.",
            ["metric"],
            states,
            lambda s: [([s.metric], s.drift.realized_metric)] if s.drift else [],
        ),
        _gauge(
            "realized_metric_by_partition",
            "The champion's primary metric measured on each recent partition once its labels arrived.",
            ["metric", "partition"],
            states,
            lambda s: (
                [([s.metric, p], v) for p, v in s.drift.realized_by_partition.items()]
                if s.drift
                else []
            ),
        ),
    ]


def run_families(states: list[SpecState]) -> list[Metric]:
    finished = CounterMetricFamily(
        f"{PREFIX}_runs",
        "Finished Dagster runs tagged mlops/spec, by final status (success, failure, canceled).",
        labels=["spec", "status"],
    )
    for state in states:
        for status, count in state.runs_finished.items():
            finished.add_metric([state.spec, status], count)
    return [
        finished,
        _gauge(
            "runs_active",
            "Dagster runs tagged mlops/spec that are queued or in progress.",
            ["status"],
            states,
            lambda s: [([status], count) for status, count in s.runs_active.items()],
        ),
    ]


def spec_families(states: list[SpecState], top_features: int) -> list[Metric]:
    """All spec metrics of one refresh."""
    return [
        *champion_families(states),
        *validation_families(states),
        *scoring_families(states),
        *drift_families(states, top_features),
        *run_families(states),
    ]
