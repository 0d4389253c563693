"""Drift-triggered retraining: every retrain signal the drift asset recorded is acted on.

The drift asset decides, window by window and in event time, whether drift or
a drop of the realized metric adds up to a reason to retrain; debounce and
cooldown live there, in `mlops_assets/policy/retraining.py`. This sensor reads
every drift materialization since its cursor (by storage id), so a single-run
backfill that records a signal in one window and calm in the next still has its
signal acted on, and asks for one retraining run covering every signal still
due: a signal whose window the newest training set already covers is dropped.
The run key names the newest signal's window, so neither a second tick nor a
daemon restart asks twice. It reads asset metadata only, never data.
"""

import datetime as dt
import json

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from mlops_assets.assets.metadata import names_of, table_rows
from mlops_assets.governance.recorded_events import newest_training_data
from mlops_assets.policy.retraining import RecordedSignal, due_signals

PAGE = 500


def recorded_signals(record) -> list[RecordedSignal]:
    """The retrain signals one drift materialization lists in its metadata."""
    entry = record.asset_materialization.metadata.get("retrain_signals")
    items = table_rows(entry) or getattr(entry, "value", None) or []
    if not isinstance(items, list):
        items = []
    return [
        RecordedSignal(
            window=str(item["window"]),
            window_end=dt.datetime.fromisoformat(item["window_end"]),
            signal=str(item["signal"]),
            reason=str(item.get("reason", "")),
            drifted_features=tuple(names_of(item.get("drifted_features"))),
        )
        for item in items
    ]


def new_drift_records(
    instance: dg.DagsterInstance, drift_asset: dg.AssetKey, after_storage_id: int | None
) -> list:
    """Every drift materialization stored after `after_storage_id`, oldest first."""
    records, cursor = [], None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=drift_asset, after_storage_id=after_storage_id),
            limit=PAGE,
            cursor=cursor,
            ascending=True,
        )
        records += page.records
        if not page.has_more:
            return records
        cursor = page.cursor


def build_drift_retraining_sensor(
    spec_name: str,
    drift_asset: dg.AssetKey,
    training_set_asset: dg.AssetKey,
    retraining_job: UnresolvedAssetJobDefinition,
    default_status: dg.DefaultSensorStatus,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{spec_name}_drift_retraining",
        job=retraining_job,
        minimum_interval_seconds=60,
        default_status=default_status,
        description=f"Retrains `{spec_name}` once for the retrain signals its drift asset recorded "
        "since the last tick (debounce and cooldown are the drift asset's, in event time).",
    )
    def drift_retraining(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        cursor = json.loads(context.cursor) if context.cursor else {}
        records = new_drift_records(context.instance, drift_asset, cursor.get("after_storage_id"))
        if not records:
            return dg.SkipReason(f"no new materialization of {drift_asset.to_user_string()}")
        moved = json.dumps({"after_storage_id": records[-1].storage_id})
        signals = [signal for record in records for signal in recorded_signals(record)]
        due = due_signals(signals, newest_training_data(context.instance, training_set_asset))
        if not due:
            return dg.SensorResult(
                skip_reason=f"{len(records)} new drift result(s): no retrain signal still due "
                f"({len(signals)} recorded)",
                cursor=moved,
            )
        newest = due[-1]
        features = list(dict.fromkeys(f for s in due for f in s.drifted_features))
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"drift-{spec_name}-{newest.window}",
                    tags={
                        "mlops/spec": spec_name,
                        "mlops/trigger": "drift",
                        "mlops/drift_window": newest.window,
                        "mlops/drift_signal": newest.signal,
                        "mlops/drift_windows": ",".join(s.window for s in due)[-1000:],
                        "mlops/drift_features": ",".join(features[:10]),
                    },
                )
            ],
            cursor=moved,
        )

    return drift_retraining
