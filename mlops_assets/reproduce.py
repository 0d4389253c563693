"""Rebuilding a past model version from what it recorded, and proving it is the same model.

A model version records the spec it was trained with (as an MLflow artifact),
the training-set table and its Delta version, and the code commit. Reading the
table at that version and fitting again with that spec must give the same
predictions; anything else means the platform is not reproducible.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import numpy as np
import polars as pl

from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.packaged_model import to_model_input
from mlops_assets.training.split import SPLIT
from mlops_assets.training.trainer import feature_candidates, train_booster
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking


def rebuild_model_version(
    spec: DatasetSpec, version: str, delta: DeltaStore, tracking: MlflowTracking
) -> dict[str, Any]:
    """Retrain `version` of the spec's model from its recorded inputs and compare test predictions."""
    client = tracking.client()
    model_version = client.get_model_version(spec.model_name, version)
    run = client.get_run(model_version.run_id)
    recorded_spec = DatasetSpec.model_validate(
        json.loads(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/spec.json"))
    )
    table_uri = run.data.tags["mlops.training_set_uri"]
    table_version = int(run.data.tags["mlops.training_set_version"])
    frame = pl.read_delta(
        table_uri, version=table_version, storage_options=delta.object_store_options()
    )
    fit_rows = frame.filter(pl.col(SPLIT) != "test")
    rebuilt = train_booster(recorded_spec, fit_rows, feature_candidates(recorded_spec, fit_rows))
    test = frame.filter(pl.col(SPLIT) == "test")
    original = mlflow.pyfunc.load_model(f"models:/{spec.model_name}/{version}")
    encoding = rebuilt.encoding
    before = np.asarray(
        original.predict(to_model_input(test, encoding.features, encoding.categorical)), dtype=float
    )
    after = np.asarray(rebuilt.predict(test), dtype=float)
    difference = float(np.max(np.abs(before - after))) if len(after) else 0.0
    return {
        "spec": spec.name,
        "model_version": version,
        "training_set": f"{table_uri}@v{table_version}",
        "git_commit": run.data.tags.get("mlflow.source.git.commit"),
        "spec_fingerprint": recorded_spec.fingerprint(),
        "test_rows": len(after),
        "best_iteration_recorded": int(run.data.params["best_iteration"]),
        "best_iteration_rebuilt": rebuilt.best_iteration,
        "max_abs_prediction_difference": difference,
        "identical": difference == 0.0
        and int(run.data.params["best_iteration"]) == rebuilt.best_iteration,
    }
