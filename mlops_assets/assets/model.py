"""The model asset: a LightGBM fit on one pinned training-set version, registered in MLflow."""

from dataclasses import dataclass

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import metric, mlflow_link, names_text, records_table
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.assets.training_set import DATA_THROUGH
from mlops_assets.evaluation import PRIMARY_METRIC, task_metrics
from mlops_assets.serving.reference import DATA_THROUGH_TAG
from mlops_assets.training.model_ref import RegisteredModel
from mlops_assets.training.registry import log_and_register
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import SPLIT
from mlops_assets.training.threshold import best_f1_threshold
from mlops_assets.training.trainer import feature_candidates, train_booster
from mlops_assets.versioning import git_commit
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

PARAM_COLUMNS = {
    "parameter": "LightGBM training parameter",
    "value": "Its value in this training",
}
EXCLUDED_COLUMNS = {
    "column": "Candidate feature the model does not use",
    "reason": "Why it was left out",
}


def params_table(params: dict) -> dg.TableMetadataValue:
    """The booster's parameters, one row each (numbers as text, so every value reads as given)."""
    frame = pl.DataFrame(
        {"parameter": list(params), "value": [str(v) for v in params.values()]},
        schema={"parameter": pl.String, "value": pl.String},
    )
    return records_table(frame, PARAM_COLUMNS)


def excluded_table(excluded) -> dg.MetadataValue:
    """The candidates left out of the model, with why (text when there are none)."""
    if not excluded:
        return dg.MetadataValue.text("none")
    if not isinstance(excluded, dict):
        return names_text(list(excluded))
    frame = pl.DataFrame(
        {"column": list(excluded), "reason": [str(v) for v in excluded.values()]},
        schema={"column": pl.String, "reason": pl.String},
    )
    return records_table(frame, EXCLUDED_COLUMNS)


@dataclass(frozen=True)
class PinnedTable:
    """The exact version of a table a model is trained on."""

    delta_version: int
    data_version: str
    data_through: str


def pinned_version(context: dg.AssetExecutionContext, key: dg.AssetKey) -> PinnedTable:
    """The Delta version, data version and newest row of the latest materialization of `key`."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        raise dg.Failure(f"{key.to_user_string()} has never been materialized")
    metadata = event.asset_materialization.metadata
    if "delta_version" not in metadata:
        raise dg.Failure(f"{key.to_user_string()}: latest materialization has no delta_version")
    through = metadata.get(DATA_THROUGH)
    return PinnedTable(
        int(metadata["delta_version"].value),
        event.asset_materialization.tags.get("dagster/data_version", ""),
        str(through.value) if through is not None else "",
    )


def build_model_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    metric_name, _ = PRIMARY_METRIC[spec.target.task]

    @dg.asset(
        **names.asset_args(names.model, "model3"),
        kinds={"lightgbm", "mlflow"},
        deps=[names.training_set],
        op_tags={"mlops/training": spec.name},
        pool=names.training_pool,
        description=f"LightGBM {spec.target.task} model of `{spec.target.column}`, registered as MLflow model `{spec.model_name}`.",
    )
    def model(
        context: dg.AssetExecutionContext, delta: DeltaStore, mlflow_tracking: MlflowTracking
    ) -> dg.Output[RegisteredModel]:
        """A new model version trained on the current training set (early-stopped on the validation window)."""
        pinned = pinned_version(context, names.training_set)
        version, data_version = pinned.delta_version, pinned.data_version
        frame = (
            delta.scan(names.training_set, version=version)
            .filter(pl.col(SPLIT) != "test")
            .collect()
        )
        candidates = feature_candidates(spec, frame)
        context.log.info(f"{spec.name}: training on {frame.height} rows of training set v{version}")
        trained = train_booster(spec, frame, candidates)
        valid = frame.filter(pl.col(SPLIT) == "valid")
        y_valid = trained.encoding.labels(valid, spec.target.column)
        scores = trained.predict(valid)
        threshold = spec.quality.decision_threshold
        if spec.target.task == "binary":
            threshold = best_f1_threshold(y_valid, scores)
        n_classes = len(trained.encoding.classes) or None
        valid_metrics = task_metrics(
            spec.target.task, y_valid, scores, threshold=threshold, n_classes=n_classes
        )
        train_rows = frame.filter(pl.col(SPLIT) == "train")
        ref = log_and_register(
            mlflow_tracking.client(),
            mlflow_tracking.experiment_id(spec.name),
            spec,
            trained,
            train_rows,
            training_set_uri=delta.table_uri(names.training_set),
            training_set_version=version,
            training_set_data_version=data_version,
            decision_threshold=threshold,
            valid_metric=valid_metrics[metric_name],
            git_commit=git_commit(),
            tags={
                "dagster_run_id": context.run_id,
                **TrainingScope.of_training_set(spec, frame).tags(),
                DATA_THROUGH_TAG: pinned.data_through,
                **mlflow_tracking.extra_tags,
            },
        )
        context.log.info(f"{spec.name}: registered {ref.name} version {ref.version}")
        return dg.Output(
            ref,
            metadata={
                "model_name": ref.name,
                "model_version": dg.MetadataValue.int(int(ref.version)),
                "model_uri": ref.model_uri,
                "mlflow_run_id": ref.run_id,
                "mlflow_run": mlflow_link(
                    mlflow_tracking.run_url(ref.experiment_id, ref.run_id), ref.run_id
                ),
                "mlflow_model_version": mlflow_link(
                    mlflow_tracking.model_version_url(ref.name, ref.version),
                    f"{ref.name} version {ref.version}",
                ),
                "mlflow_spec": dg.MetadataValue.url(
                    mlflow_tracking.artifact_url(ref.experiment_id, ref.run_id, "spec.json")
                ),
                "training_set_version": dg.MetadataValue.int(version),
                "training_set_data_version": data_version,
                "git_commit": ref.git_commit,
                "best_iteration": dg.MetadataValue.int(trained.best_iteration),
                f"valid_{metric_name}": metric(valid_metrics[metric_name]),
                "decision_threshold": metric(threshold),
                "feature_count": dg.MetadataValue.int(len(trained.encoding.features)),
                "features": names_text(trained.encoding.features),
                "excluded_features": excluded_table(trained.excluded),
                "lightgbm_params": params_table(trained.params),
            },
        )

    return model
