"""The resources every spec's assets use, chosen from the environment.

Kept apart from the code location (`mlops_assets.definitions`), so a command about
one spec builds its resources without loading every spec.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from mlops_assets.assets.naming import DELTA_IO_MANAGER
from resources.delta_store import DeltaStore, DeltaTableIOManager, default_data_root
from resources.mlflow_tracking import MlflowTracking, default_artifact_root, default_tracking_uri
from resources.object_storage import object_store_credentials, object_store_settings
from resources.pii import PiiProtection


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
