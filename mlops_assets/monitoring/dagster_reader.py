"""Reading a spec's state from the Dagster instance: latest materialization metadata and run counts.

Only event-log records are read (the metadata the assets attach when they
materialize), never the tables themselves, so a refresh costs a few indexed
queries per spec whatever the size of the data.
"""

import math
from typing import Any

import dagster as dg

from mlops_assets.assets.metadata import table_rows
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.monitoring.spec_state import Drift, ScoreHistogram, Scoring, Validation

SPEC_TAG = "mlops/spec"
RUNS_FINISHED = {
    "success": dg.DagsterRunStatus.SUCCESS,
    "failure": dg.DagsterRunStatus.FAILURE,
    "canceled": dg.DagsterRunStatus.CANCELED,
}
RUNS_ACTIVE = {
    "queued": dg.DagsterRunStatus.QUEUED,
    "started": dg.DagsterRunStatus.STARTED,
}
SEVERITY_PREFIX = "drift_severity_"
QUANTILE_PREFIX = "prediction_p"
CLASS_SHARE_PREFIX = "prediction_share_"


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, NaN or non-numeric values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _rows(metadata: dict[str, Any]) -> int | None:
    return _whole(metadata.get("dagster/row_count", metadata.get("rows_in_run")))


def latest_metadata(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> tuple[dict[str, Any], float] | None:
    """The metadata and timestamp of an asset's latest materialization (any partition)."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    return _plain(event.asset_materialization.metadata), event.timestamp


def read_validation(instance: dg.DagsterInstance, names: SpecAssets) -> Validation | None:
    latest = latest_metadata(instance, names.validated)
    if latest is None:
        return None
    metadata, _ = latest
    return Validation(
        valid_rows=_rows(metadata),
        rejected_rows=_whole(metadata.get("rejected_rows")) or 0,
        rule_breaking_ratio=_number(
            metadata.get("rule_breaking_share", metadata.get("rejected_share"))
        )
        or 0.0,
    )


def _histogram(value: Any) -> ScoreHistogram | None:
    """The score buckets of the predictions asset: its `prediction_histogram` table (or the
    JSON object of `upper_bounds` and `counts` that materializations before it stored)."""
    rows = table_rows(value)
    if rows:
        return ScoreHistogram(
            upper_bounds=[float(r["upper_bound"]) for r in rows],
            counts=[int(r["rows"]) for r in rows],
        )
    if not isinstance(value, dict) or "upper_bounds" not in value or "counts" not in value:
        return None
    return ScoreHistogram(
        upper_bounds=[float(b) for b in value["upper_bounds"]],
        counts=[int(c) for c in value["counts"]],
    )


def _quantile_label(key: str) -> str | None:
    """`prediction_p05` -> `p05`; other keys (`prediction_mean`, ...) -> None."""
    digits = key.removeprefix(QUANTILE_PREFIX)
    return f"p{digits}" if digits.isdigit() else None


def _duration(rows: int | None, rows_per_second: float | None) -> float | None:
    """Seconds the run spent scoring, from its row count and throughput."""
    if rows is None or not rows_per_second:
        return None
    return rows / rows_per_second


def read_scoring(instance: dg.DagsterInstance, names: SpecAssets) -> Scoring | None:
    latest = latest_metadata(instance, names.predictions)
    if latest is None:
        return None
    metadata, finished_at = latest
    quantiles = {}
    for key, value in metadata.items():
        label = _quantile_label(key) if key.startswith(QUANTILE_PREFIX) else None
        if label is not None and _number(value) is not None:
            quantiles[label] = float(value)
    shares = {
        key.removeprefix(CLASS_SHARE_PREFIX): float(value)
        for key, value in metadata.items()
        if key.startswith(CLASS_SHARE_PREFIX) and _number(value) is not None
    }
    return Scoring(
        finished_at=finished_at,
        model_version=_whole(metadata.get("model_version")),
        rows=_rows(metadata),
        duration_seconds=_duration(_rows(metadata), _number(metadata.get("rows_per_second"))),
        latency_p50_ms=_number(metadata.get("latency_p50_ms")),
        latency_p95_ms=_number(metadata.get("latency_p95_ms")),
        unseen_category_values=_whole(metadata.get("unseen_category_values")),
        out_of_range_values=_whole(metadata.get("out_of_range_values")),
        score_quantiles=quantiles,
        score_mean=_number(metadata.get("prediction_mean")),
        class_shares=shares,
        histogram=_histogram(metadata.get("prediction_histogram")),
    )


def realized_by_partition(
    instance: dg.DagsterInstance, key: dg.AssetKey, metric: str, partitions_kept: int
) -> dict[str, float]:
    """The realized metric of the newest `partitions_kept` partitions that had labels.

    A range run (single-run backfill) records each partition's own window figures
    (docs/metadata.md, "A run over many partitions"); a partition without labelled
    unseen rows has none and is left out.
    """
    latest: dict[str, float | None] = {}
    records = instance.fetch_materializations(key, limit=max(partitions_kept, 1) * 4).records
    for record in records:
        materialization = record.asset_materialization
        if materialization is None or materialization.partition is None:
            continue
        if materialization.partition in latest:
            continue
        value = getattr(materialization.metadata.get(f"realized_{metric}"), "value", None)
        latest[materialization.partition] = _number(value)
    labelled = {p: v for p, v in latest.items() if v is not None}
    newest = sorted(labelled, reverse=True)[:partitions_kept]
    return {partition: labelled[partition] for partition in sorted(newest)}


def read_drift(
    instance: dg.DagsterInstance, names: SpecAssets, metric: str, partitions_kept: int
) -> Drift | None:
    latest = latest_metadata(instance, names.drift)
    if latest is None:
        return None
    metadata, finished_at = latest
    severities = {
        key.removeprefix(SEVERITY_PREFIX): float(value)
        for key, value in metadata.items()
        if key.startswith(SEVERITY_PREFIX) and _number(value) is not None
    }
    flag = metadata.get("dataset_drift")
    signal = metadata.get("retrain_signal")
    return Drift(
        finished_at=finished_at,
        drift_share=_number(metadata.get("drift_share")),
        dataset_drift=bool(flag) if flag is not None else None,
        retrain_signal=bool(signal) if signal is not None else None,
        drifted_in_a_row=_whole(metadata.get("drifted_in_a_row")),
        prediction_drift_score=_number(metadata.get("prediction_drift_score")),
        realized_metric=_number(metadata.get(f"realized_{metric}")),
        feature_severity=severities,
        realized_by_partition=(
            realized_by_partition(instance, names.drift, metric, partitions_kept)
            if names.partitions_def is not None
            else {}
        ),
    )


def run_counts(
    instance: dg.DagsterInstance, spec_name: str, statuses: dict[str, dg.DagsterRunStatus]
) -> dict[str, int]:
    """How many runs tagged with the spec are in each status."""
    return {
        label: instance.get_runs_count(
            filters=dg.RunsFilter(tags={SPEC_TAG: spec_name}, statuses=[status])
        )
        for label, status in statuses.items()
    }
