"""Scheduled retraining: each spec's training assets on a cron, tagged with why they ran."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def build_retraining_job(
    spec_name: str, training_assets: list[dg.AssetKey]
) -> UnresolvedAssetJobDefinition:
    """The training assets of a spec as one job, shared by the schedule and the drift sensor."""
    return dg.define_asset_job(
        name=f"{spec_name}_retraining",
        selection=training_assets,
        tags={"mlops/spec": spec_name},
        description=f"Retrain `{spec_name}`: training set, model, evaluation, promotion decision and model card.",
    )


def build_retraining_schedule(
    spec_name: str,
    cron: str,
    job: UnresolvedAssetJobDefinition,
    default_status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    """Retrain on the latest data on `cron`; the promotion gate decides whether the result serves."""
    return dg.ScheduleDefinition(
        name=f"{spec_name}_scheduled_retraining",
        job=job,
        cron_schedule=cron,
        default_status=default_status,
        tags={"mlops/trigger": "schedule"},
        description=f"Retrains `{spec_name}` on `{cron}` (spec field retraining.schedule).",
    )
