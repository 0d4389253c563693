"""A sensor that materializes a spec's whole graph once, so `make run` needs no clicks.

It asks for one run over every partition (a single-run backfill) followed by
the training steps, keyed by the spec's fingerprint and the attempt: a spec
edit bootstraps again, a daemon restart or a second tick does not. A failed
bootstrap (a start that timed out on a busy machine, a killed process, a bad
batch) is tried again, up to `MAX_ATTEMPTS` runs in all counting Dagster's own
retries, and every tick says in its skip reason where the bootstrap stands.
"""

import dagster as dg

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"
FINGERPRINT_TAG = "mlops/spec_fingerprint"
MAX_ATTEMPTS = 3


def _failure_reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    failure = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE, limit=1
    ).records
    message = failure[0].event_log_entry.dagster_event.message if failure else ""
    return (message or "no reason recorded").splitlines()[0][:300]


def build_bootstrap_sensor(
    spec_name: str,
    spec_fingerprint: str,
    assets: list[dg.AssetKey],
    last_asset: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition | None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{spec_name}_bootstrap",
        asset_selection=assets,
        minimum_interval_seconds=30,
        default_status=default_status,
        description=f"Materializes every asset of `{spec_name}` once, when its model has never "
        f"been evaluated; a failed bootstrap is tried again, {MAX_ATTEMPTS} runs at most.",
    )
    def bootstrap(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        if context.instance.get_latest_materialization_event(last_asset) is not None:
            return dg.SkipReason(f"{last_asset.to_user_string()} already materialized")
        mine = {
            "mlops/spec": spec_name,
            "mlops/trigger": "bootstrap",
            FINGERPRINT_TAG: spec_fingerprint,
        }
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags=mine))
        going = [run for run in runs if not run.is_finished]
        if going:
            return dg.SkipReason(
                f"bootstrap run {going[0].run_id} is {going[0].status.value.lower()}"
            )
        failed = [run for run in runs if run.status == dg.DagsterRunStatus.FAILURE]
        if len(failed) >= MAX_ATTEMPTS:
            return dg.SkipReason(
                f"the bootstrap failed {len(failed)} times and is not tried again; last run "
                f"{failed[0].run_id}: {_failure_reason(context.instance, failed[0]).rstrip('.')}. Fix the "
                "cause, then re-execute that run or edit the spec"
            )
        tags = dict(mine)
        if partitions_def is not None:
            keys = partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
            tags |= {PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]}
        attempt = len(runs) + 1
        key = f"bootstrap-{spec_name}-{spec_fingerprint}"
        if failed:
            context.log.warning(
                f"{spec_name}: bootstrap attempt {attempt} of {MAX_ATTEMPTS}; run "
                f"{failed[0].run_id} failed: {_failure_reason(context.instance, failed[0])}"
            )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=key if attempt == 1 else f"{key}-attempt-{attempt}",
                    asset_selection=assets,
                    tags=tags | {"mlops/bootstrap_attempt": str(attempt)},
                )
            ]
        )

    return bootstrap
