"""Drift-triggered retraining, debounced and with a cooldown.

The drift asset decides, per window, whether drift adds up to a reason to
retrain (`retrain_signal`: several drifted windows in a row, or one far out).
This sensor turns a new signal into exactly one retraining run: the run key
names the window, so neither a second tick nor a daemon restart asks twice, and
within the cooldown after a drift-triggered retraining a new signal is noted
but not acted on. It reads asset metadata only, never data.
"""

import json
import time

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def build_drift_retraining_sensor(
    spec_name: str,
    drift_asset: dg.AssetKey,
    retraining_job: UnresolvedAssetJobDefinition,
    cooldown_hours: float,
    default_status: dg.DefaultSensorStatus,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{spec_name}_drift_retraining",
        job=retraining_job,
        minimum_interval_seconds=60,
        default_status=default_status,
        description=f"Retrains `{spec_name}` once per new drift signal, at most once per {cooldown_hours} h.",
    )
    def drift_retraining(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        cursor = json.loads(context.cursor) if context.cursor else {}
        records = context.instance.fetch_materializations(drift_asset, limit=1).records
        if not records:
            return dg.SkipReason(f"{drift_asset.to_user_string()} has not been materialized")
        record = records[0]
        metadata = record.asset_materialization.metadata
        window = record.asset_materialization.partition or f"storage-{record.storage_id}"
        if window == cursor.get("last_window"):
            return dg.SkipReason(f"drift of window {window} already handled")
        signal = "retrain_signal" in metadata and bool(metadata["retrain_signal"].value)
        if not signal:
            return dg.SensorResult(
                skip_reason=f"window {window}: no retrain signal",
                cursor=json.dumps({**cursor, "last_window": window}),
            )
        now = time.time()
        last = cursor.get("last_trigger_at")
        if last is not None and now - last < cooldown_hours * 3600:
            return dg.SensorResult(
                skip_reason=f"window {window}: drift signal within the {cooldown_hours} h cooldown",
                cursor=json.dumps({**cursor, "last_window": window}),
            )
        features = (
            list(metadata["drifted_features"].value) if "drifted_features" in metadata else []
        )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"drift-{spec_name}-{window}",
                    tags={
                        "mlops/spec": spec_name,
                        "mlops/trigger": "drift",
                        "mlops/drift_window": window,
                        "mlops/drift_features": ",".join(features[:10]),
                    },
                )
            ],
            cursor=json.dumps({"last_window": window, "last_trigger_at": now}),
        )

    return drift_retraining
