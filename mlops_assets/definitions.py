"""The code location: every spec's asset group, with its resources and sensors.

A spec file that does not load (or whose assets cannot be built) never stops the
others: it becomes an asset in the `broken_specs` group, named after the file,
whose description is the reason, and the reason is logged; every other spec
keeps its group.
"""

from __future__ import annotations

import logging
import os
import warnings

import dagster as dg

from mlops_assets.assets.naming import SpecAssets
from mlops_assets.execution import executor_from_environment
from mlops_assets.pipeline import build_spec_assets, materialized_on_bootstrap
from mlops_assets.platform_resources import build_resources, dagster_home
from mlops_assets.specs import BrokenSpec, DatasetSpec, load_spec_catalog
from sensors.bootstrap import build_bootstrap_sensor
from sensors.drift_retraining import build_drift_retraining_sensor
from sensors.retraining import build_retraining_job, build_retraining_schedule

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
log = logging.getLogger("mlops_assets.definitions")
BROKEN_SPECS_GROUP = "broken_specs"

__all__ = ["build_definitions", "build_resources", "dagster_home", "defs"]


def broken_spec_assets(broken: list[BrokenSpec]) -> list[dg.AssetSpec]:
    """One asset per spec file that did not load, so the UI shows the file and the reason."""
    assets, used = [], set()
    for entry in broken:
        label = entry.label
        while label in used:
            label += "_"
        used.add(label)
        assets.append(
            dg.AssetSpec(
                key=dg.AssetKey([BROKEN_SPECS_GROUP, label]),
                group_name=BROKEN_SPECS_GROUP,
                kinds={"yaml"},
                tags={"mlops/broken_spec": "true"},
                description=f"BROKEN SPEC FILE {entry.path} (not loaded; every other spec "
                f"is): {entry.reason}",
                metadata={
                    "spec_file": dg.MetadataValue.path(str(entry.path)),
                    "reason": dg.MetadataValue.text(entry.reason),
                },
            )
        )
    return assets


def build_definitions() -> dg.Definitions:
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = []
    sensors: list[dg.SensorDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    bootstrap_status = (
        dg.DefaultSensorStatus.RUNNING
        if os.environ.get("MLOPS_BOOTSTRAP", "1") != "0"
        else dg.DefaultSensorStatus.STOPPED
    )
    automation_on = os.environ.get("MLOPS_AUTOMATION", "1") != "0"
    schedule_status = (
        dg.DefaultScheduleStatus.RUNNING if automation_on else dg.DefaultScheduleStatus.STOPPED
    )
    automation_status = (
        dg.DefaultSensorStatus.RUNNING if automation_on else dg.DefaultSensorStatus.STOPPED
    )
    catalog = load_spec_catalog()
    broken = list(catalog.broken)
    for path, spec in catalog.specs:
        try:
            spec_assets, spec_sensors, spec_schedules = _spec_definitions(
                spec, bootstrap_status, schedule_status, automation_status
            )
        except Exception as error:  # one spec's failure must not hide the others
            reason = f"{path}: cannot build its assets: {error}"
            log.error("spec not loaded: %s", reason)
            broken.append(BrokenSpec(path, reason))
            continue
        assets += spec_assets
        sensors += spec_sensors
        schedules += spec_schedules
    for entry in broken:
        log.error("BROKEN SPEC FILE %s: %s", entry.path, entry.reason)
    assets += broken_spec_assets(broken)
    return dg.Definitions(
        assets=assets,
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(),
        executor=executor_from_environment(),
    )


def _spec_definitions(
    spec: DatasetSpec,
    bootstrap_status: dg.DefaultSensorStatus,
    schedule_status: dg.DefaultScheduleStatus,
    automation_status: dg.DefaultSensorStatus,
) -> tuple[list[dg.AssetsDefinition], list[dg.SensorDefinition], list[dg.ScheduleDefinition]]:
    names = SpecAssets(spec)
    spec_assets = build_spec_assets(spec)
    keys = materialized_on_bootstrap(spec, spec_assets)
    job = build_retraining_job(spec.name, names.training_assets)
    schedules = [
        build_retraining_schedule(spec.name, spec.retraining.schedule, job, schedule_status)
    ]
    sensors = [
        build_drift_retraining_sensor(
            spec.name, names.drift, names.training_set, job, automation_status
        ),
        build_bootstrap_sensor(
            spec.name,
            spec.fingerprint(),
            keys,
            names.evaluation,
            names.partitions_def,
            bootstrap_status,
        ),
    ]
    return spec_assets, sensors, schedules


defs = build_definitions()
