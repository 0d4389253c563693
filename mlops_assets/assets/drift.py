"""The drift asset: has the data the champion sees moved away from what it learned from?

Each window of new feature rows is compared, column by column, with the
champion's training rows (the exact recorded table version); the champion's
scores are compared the same way, and once labels are there, its realized
metric is compared with its test metric. Whether this adds up to a reason to
retrain (several drifted windows in a row, or one far out) is decided here as
`retrain_signal` and acted on by the drift sensor.
"""

import dagster as dg
import mlflow.pyfunc
import numpy as np
import polars as pl

from mlops_assets.assets.metadata import partition_count, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.drift import DriftSettings, column_drift, dataset_drift, prediction_drift
from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table, task_metrics
from mlops_assets.ingest.raw_batch import PARTITION
from mlops_assets.serving.champion import champion_version
from mlops_assets.serving.reference import champion_reference
from mlops_assets.serving.scoring import score_frame
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

NO_FEATURE_DRIFT = "no_feature_drift"
NO_PREDICTION_DRIFT = "no_prediction_drift"
NO_PERFORMANCE_DROP = "no_performance_drop"
DRIFT_FEATURES_SHOWN = 10
MIN_LABELLED_ROWS = 30
REPORT_COLUMNS = {
    "column": "Feature compared with the champion's training rows",
    "kind": "numeric or categorical",
    "method": "Test that decides drift for this feature",
    "score": "The deciding test's statistic (distance or p-value)",
    "threshold": "Drift when the score passes this value",
    "drifted": "Whether the feature drifted in this window",
    "severity": "Score scaled so that 1 is the threshold",
    "psi": "Population stability index (drift from 0.2)",
    "ks_statistic": "Kolmogorov-Smirnov statistic (numeric features)",
    "ks_p_value": "Kolmogorov-Smirnov p-value (numeric features)",
    "wasserstein_normed": "Wasserstein distance over the reference standard deviation",
    "jensen_shannon": "Jensen-Shannon distance, base 2 (categorical features)",
    "chi_square_p_value": "Chi-square p-value (categorical features)",
    "champion_version": "Champion model version the window was compared with",
}


def drift_settings(spec) -> DriftSettings:
    drift = spec.drift
    return DriftSettings(
        numeric_method=drift.numeric_method,
        categorical_method=drift.categorical_method,
        small_sample_rows=drift.small_sample_rows,
        ks_p_value=drift.ks_p_value,
        chi_square_p_value=drift.chi_square_p_value,
        wasserstein_threshold=drift.wasserstein_threshold,
        jensen_shannon_threshold=drift.jensen_shannon_threshold,
        psi_threshold=drift.psi_threshold,
        dataset_drift_share=drift.dataset_drift_share,
        max_sample_rows=drift.max_sample_rows,
    )


def drifted_in_a_row(
    instance: dg.DagsterInstance, key: dg.AssetKey, this_window: set[str], drifted: bool, limit: int
) -> int:
    """How many windows in a row, this one included, drifted (read from metadata, not data)."""
    if not drifted:
        return 0
    latest: dict[str, bool] = {}
    for record in instance.fetch_materializations(key, limit=limit * 4).records:
        materialization = record.asset_materialization
        partition = materialization.partition
        if partition is None or partition in this_window or partition in latest:
            continue
        if "dataset_drift" in materialization.metadata:
            latest[partition] = bool(materialization.metadata["dataset_drift"].value)
    streak = 1
    for partition in sorted(latest, reverse=True):
        if streak >= limit or not latest[partition]:
            break
        streak += 1
    return streak


def champion_scores(
    model, frame: pl.DataFrame, predictions: pl.DataFrame | None, version: str, task: str
) -> np.ndarray:
    """The champion's scores of a window: stored predictions when they are the champion's, else fresh ones."""
    if task != "multiclass":
        stored = (
            predictions.filter(pl.col("model_version") == version)
            if predictions is not None
            else None
        )
        if stored is not None and stored.height == frame.height:
            return stored["prediction"].to_numpy()
        return score_frame(model, frame).scores
    return score_frame(model, frame).scores.argmax(axis=1).astype(float)


def build_drift_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    task = spec.target.task
    metric_name, _ = PRIMARY_METRIC[task]

    @dg.asset(
        **names.asset_args(names.drift, "drift1"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={
            "features": dg.AssetIn(key=names.features),
            "predictions": dg.AssetIn(key=names.predictions),
        },
        check_specs=[
            dg.AssetCheckSpec(
                NO_FEATURE_DRIFT,
                asset=names.drift,
                description="Feature drift share below spec drift.dataset_drift_share (warns on any drifted feature).",
            ),
            dg.AssetCheckSpec(
                NO_PREDICTION_DRIFT,
                asset=names.drift,
                description="The champion's score distribution has not moved.",
            ),
            dg.AssetCheckSpec(
                NO_PERFORMANCE_DROP,
                asset=names.drift,
                description="Where labels exist, the realized metric is within drift.max_metric_drop of the champion's test metric.",
            ),
        ],
        description="Per-feature drift (PSI, KS, Jensen-Shannon, Wasserstein, chi-square), prediction drift "
        "and realized performance of this window against the champion's training data; the debounced retrain signal.",
    )
    def drift(
        context: dg.AssetExecutionContext,
        features: pl.DataFrame,
        predictions: pl.DataFrame,
        mlflow_tracking: MlflowTracking,
        delta: DeltaStore,
    ):
        """How far this window moved from the champion's training data, and whether to retrain."""
        client = mlflow_tracking.client()
        version = champion_version(client, spec.model_name)
        if version is None:
            raise dg.Failure(f"{spec.model_name} has no champion to compare with")
        settings = drift_settings(spec)
        reference, champion_test = champion_reference(
            client,
            spec.model_name,
            version,
            spec.drift.max_sample_rows,
            delta.object_store_options(),
        )
        model = mlflow.pyfunc.load_model(f"models:/{spec.model_name}/{version}")
        encoding = model.unwrap_python_model().encoding
        report = column_drift(
            reference, features, encoding.features, encoding.categorical, settings
        )
        share, drifted = dataset_drift(report, settings)
        reference_scores = champion_scores(model, reference, None, version, task)
        current_scores = champion_scores(model, features, predictions, version, task)
        prediction = prediction_drift(reference_scores, current_scores, settings)
        realized = None
        labelled, labels = encoding.known_labels(features, spec.target.column)
        if labelled.height >= MIN_LABELLED_ROWS:
            scores = score_frame(model, labelled).scores
            n_classes = len(encoding.classes) or None
            realized = task_metrics(task, labels, scores, n_classes=n_classes)[metric_name]
        champion_metric = champion_test.get(metric_name)
        window = set(context.partition_keys) if spec.is_partitioned else set()
        streak = drifted_in_a_row(
            context.instance,
            names.drift,
            window,
            drifted,
            spec.retraining.drifted_partitions_in_a_row,
        )
        signal = (
            streak >= spec.retraining.drifted_partitions_in_a_row
            or share >= spec.retraining.hard_drift_share
        )
        drifted_features = report.filter(pl.col("drifted"))["column"].to_list()
        top = report.head(DRIFT_FEATURES_SHOWN)
        context.log.info(
            f"{spec.name}: drift share {share:.2f} ({len(drifted_features)} features), signal {signal}"
        )
        table = report.with_columns(pl.lit(version).alias("champion_version"))
        if spec.is_partitioned:
            table = table.with_columns(
                pl.lit(features[PARTITION].min(), dtype=pl.Date).alias(PARTITION)
            )
        numeric_scores = {
            f"drift_severity_{row['column']}": dg.MetadataValue.float(
                min(float(row["severity"]), 1e6)
            )
            for row in top.iter_rows(named=True)
            if row["severity"] is not None and not np.isnan(row["severity"])
        }
        yield dg.Output(
            table,
            data_version=dg.DataVersion(content_hash(table)),
            metadata={
                **table_metadata(table, spec, REPORT_COLUMNS, partitions=partition_count(context)),
                "champion_version": dg.MetadataValue.int(int(version)),
                "drift_share": dg.MetadataValue.float(share),
                "dataset_drift": dg.MetadataValue.bool(drifted),
                "drifted_features": dg.MetadataValue.json(drifted_features),
                "prediction_drift_score": dg.MetadataValue.float(float(prediction["score"] or 0.0)),
                "prediction_drift_method": str(prediction["method"]),
                f"realized_{metric_name}": dg.MetadataValue.float(
                    realized if realized is not None else float("nan")
                ),
                f"champion_test_{metric_name}": dg.MetadataValue.float(
                    champion_metric if champion_metric is not None else float("nan")
                ),
                "drifted_in_a_row": dg.MetadataValue.int(streak),
                "retrain_signal": dg.MetadataValue.bool(bool(signal)),
                "feature_drift": dg.MetadataValue.md(
                    markdown_table(
                        top.select(
                            "column", "kind", "method", "score", "threshold", "drifted", "psi"
                        )
                    )
                ),
                **numeric_scores,
            },
        )
        any_drift = bool(drifted_features)
        yield dg.AssetCheckResult(
            check_name=NO_FEATURE_DRIFT,
            passed=not any_drift,
            severity=dg.AssetCheckSeverity.ERROR if drifted else dg.AssetCheckSeverity.WARN,
            description=f"{len(drifted_features)} of {report.height} features drifted (share {share:.2f}, "
            f"limit {settings.dataset_drift_share}): {', '.join(drifted_features[:5]) or 'none'}",
            metadata={"drift_share": dg.MetadataValue.float(share)},
        )
        prediction_moved = bool(prediction["drifted"])
        yield dg.AssetCheckResult(
            check_name=NO_PREDICTION_DRIFT,
            passed=not prediction_moved,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"prediction {prediction['method']} {prediction['score']}, PSI {prediction['psi']}",
        )
        dropped = (
            realized is not None
            and champion_metric is not None
            and realized < champion_metric - spec.drift.max_metric_drop
        )
        yield dg.AssetCheckResult(
            check_name=NO_PERFORMANCE_DROP,
            passed=not dropped,
            description=(
                f"realized {metric_name} {realized:.4f} vs champion test {champion_metric:.4f} (allowed drop {spec.drift.max_metric_drop})"
                if realized is not None and champion_metric is not None
                else "no labels in this window yet"
            ),
        )

    return drift
