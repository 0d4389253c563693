"""Logging a trained booster to MLflow and registering it as a new model version."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.gate_record import mark_pending
from mlops_assets.training.model_ref import RegisteredModel
from mlops_assets.training.trainer import TrainedBooster

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}"
        for name in ("mlflow", "lightgbm", "polars", "pandas", "numpy", "pyarrow")
    ]


def log_and_register(
    client: MlflowClient,
    experiment_id: str,
    spec: DatasetSpec,
    trained: TrainedBooster,
    train_frame: pl.DataFrame,
    *,
    training_set_uri: str,
    training_set_version: int,
    training_set_data_version: str,
    decision_threshold: float,
    valid_metric: float,
    git_commit: str,
    tags: dict[str, str],
) -> RegisteredModel:
    """One MLflow run per model version: params, metrics, input data, spec, model; then register it."""
    import lightgbm
    import mlflow
    from mlflow.models import infer_signature

    from mlops_assets.training.packaged_model import (
        TabularLightGBM,
        to_model_input,
        write_artifacts,
    )

    encoding = trained.encoding
    run_tags = {
        "mlops.spec": spec.name,
        "mlops.spec_fingerprint": spec.fingerprint(),
        "mlflow.source.git.commit": git_commit,
        "mlops.training_set_uri": training_set_uri,
        "mlops.training_set_version": str(training_set_version),
        **tags,
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{spec.name}-train", tags=run_tags
    ) as run:
        mlflow.log_params(
            {
                **{f"lgb.{k}": v for k, v in trained.params.items()},
                "num_boost_round": spec.training.num_boost_round,
                "early_stopping_rounds": spec.training.early_stopping_rounds,
                "best_iteration": trained.best_iteration,
                "n_features": len(encoding.features),
                "training_set_version": training_set_version,
                "decision_threshold": round(decision_threshold, 6),
                "lightgbm_version": lightgbm.__version__,
            }
        )
        mlflow.log_metric("valid_metric", valid_metric)
        dataset = mlflow.data.from_polars(
            train_frame,
            source=f"{training_set_uri}@v{training_set_version}",
            name=f"{spec.name}_training_set",
        )
        mlflow.log_input(dataset, context="training")
        mlflow.log_dict(spec.model_dump(mode="json"), "spec.json")
        mlflow.log_dict(
            {"features": encoding.features, "excluded": trained.excluded}, "features.json"
        )
        example = to_model_input(train_frame.head(20), encoding.features, encoding.categorical)
        with tempfile.TemporaryDirectory() as folder:
            artifacts = write_artifacts(
                Path(folder), trained.booster, encoding, trained.best_iteration
            )
            output = trained.predict(train_frame.head(20))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=TabularLightGBM(),
                artifacts=artifacts,
                signature=infer_signature(example, output),
                input_example=example.head(3),
                pip_requirements=_requirements(),
                registered_model_name=spec.model_name,
                await_registration_for=60,
            )
        version = str(info.registered_model_version)
    client.set_model_version_tag(spec.model_name, version, "mlops.training_run", run.info.run_id)
    mark_pending(client, spec.model_name, version, tags.get("dagster_run_id", ""))
    client.update_model_version(
        spec.model_name,
        version,
        description=json.dumps(
            {
                "spec": spec.name,
                "training_set": f"{training_set_uri}@v{training_set_version}",
                "git_commit": git_commit,
            }
        ),
    )
    return RegisteredModel(
        spec_name=spec.name,
        name=spec.model_name,
        version=version,
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_uri=f"models:/{spec.model_name}/{version}",
        training_set_uri=training_set_uri,
        training_set_version=training_set_version,
        training_set_data_version=training_set_data_version,
        spec_fingerprint=spec.fingerprint(),
        git_commit=git_commit,
        features=encoding.features,
        categorical=encoding.categorical,
        best_iteration=trained.best_iteration,
        decision_threshold=decision_threshold,
        valid_metric=valid_metric,
    )
