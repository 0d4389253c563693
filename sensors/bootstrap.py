"""A sensor that materializes a spec's whole graph once, so `make run` needs no clicks.

It asks for one run over every partition (a single-run backfill) followed by
the training steps, keyed by the spec's fingerprint: a spec edit bootstraps
again, a daemon restart or a second tick does not.
"""

import dagster as dg

PARTITION_RANGE_START = "dagster/asset_partition_range_start"
PARTITION_RANGE_END = "dagster/asset_partition_range_end"


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
        description=f"Materializes every asset of `{spec_name}` once, when its model has never been evaluated.",
    )
    def bootstrap(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        if context.instance.get_latest_materialization_event(last_asset) is not None:
            return dg.SkipReason(f"{last_asset.to_user_string()} already materialized")
        tags = {"mlops/spec": spec_name, "mlops/trigger": "bootstrap"}
        if partitions_def is not None:
            keys = partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
            tags |= {PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]}
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"bootstrap-{spec_name}-{spec_fingerprint}",
                    asset_selection=assets,
                    tags=tags,
                )
            ]
        )

    return bootstrap
