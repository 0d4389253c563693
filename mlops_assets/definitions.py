"""The code location: every spec's asset group, with its resources and sensors."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dagster as dg

from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.execution import executor_from_environment
from mlops_assets.pipeline import build_spec_assets, materialized_on_bootstrap
from mlops_assets.specs import load_specs
from resources.delta_store import DeltaStore, DeltaTableIOManager, default_data_root
from resources.mlflow_tracking import MlflowTracking, default_artifact_root, default_tracking_uri
from resources.object_storage import object_store_credentials, object_store_settings
from resources.pii import PiiProtection
from sensors.bootstrap import build_bootstrap_sensor
from sensors.drift_retraining import build_drift_retraining_sensor
from sensors.retraining import build_retraining_job, build_retraining_schedule

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", ".dagster_home")).resolve()


def build_resources() -> dict:
    """Resources chosen by environment: local folders by default, URIs from the environment in production."""
    delta = DeltaStore(
        root_uri=default_data_root(),
        storage_options=object_store_settings(os.environ),
        **object_store_credentials(os.environ),
    )
    pii = (
        PiiProtection(hmac_key=dg.EnvVar("MLOPS_PII_KEY"))
        if os.environ.get("MLOPS_PII_KEY")
        else PiiProtection()
    )
    return {
        "delta": delta,
        DELTA_IO_MANAGER: DeltaTableIOManager(store=delta),
        # Small outputs (model references, reports) pass between steps here; a pod per step
        # on Kubernetes needs MLOPS_IO_ROOT on a volume that every step pod mounts.
        "io_manager": dg.FilesystemIOManager(
            base_dir=os.environ.get("MLOPS_IO_ROOT", str(dagster_home() / "storage"))
        ),
        "mlflow_tracking": MlflowTracking(
            mlflow_tracking_uri=default_tracking_uri(), artifact_root=default_artifact_root()
        ),
        "pii": pii,
    }


def build_definitions() -> dg.Definitions:
    assets: list[dg.AssetsDefinition] = []
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
    for spec in load_specs():
        names = SpecAssets(spec)
        spec_assets = build_spec_assets(spec)
        assets += spec_assets
        keys = materialized_on_bootstrap(spec, spec_assets)
        job = build_retraining_job(spec.name, names.training_assets)
        schedules.append(
            build_retraining_schedule(spec.name, spec.retraining.schedule, job, schedule_status)
        )
        sensors.append(
            build_drift_retraining_sensor(
                spec.name, names.drift, job, spec.retraining.cooldown_hours, automation_status
            )
        )
        sensors.append(
            build_bootstrap_sensor(
                spec.name,
                spec.fingerprint(),
                keys,
                names.evaluation,
                names.partitions_def,
                bootstrap_status,
            )
        )
    return dg.Definitions(
        assets=assets,
        sensors=sensors,
        schedules=schedules,
        resources=build_resources(),
        executor=executor_from_environment(),
    )


defs = build_definitions()
