"""The online_drift asset: has the traffic the champion answers moved away from what it learned from?

The same comparison as the `drift` asset, on a window of the inference log
instead of a window of batch features: each feature of the logged rows against
the champion's training rows (the exact recorded table version), the champion's
scores of the traffic against its scores of those training rows, and, once
labels exist, the champion's realized metric on the traffic against its test
metric. A label comes with a logged row when the request carried the target's
source columns, or later from the batch path: when the spec has `id_columns`
and the outcome rows reach the `features` table, their labels are joined onto
the logged rows by id.
"""

import dagster as dg
import polars as pl

from mlops_assets.assets.drift import feature_drift_table
from mlops_assets.assets.metadata import (
    metric,
    names_text,
    partition_count,
    ratio,
    significant,
    table_metadata,
)
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.drift.detection import REPORT_SCHEMA
from mlops_assets.evaluation import PRIMARY_METRIC
from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION
from mlops_assets.online.inference_log import REQUEST_ID
from mlops_assets.policy.evidence import champion_view, measure_window
from mlops_assets.serving.champion import champion_version
from mlops_assets.serving.reference import champion_record
from mlops_assets.serving.registered import load_version
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

NO_ONLINE_FEATURE_DRIFT = "no_online_feature_drift"
NO_ONLINE_PREDICTION_DRIFT = "no_online_prediction_drift"
NO_ONLINE_PERFORMANCE_DROP = "no_online_performance_drop"
BATCH_LABEL = "_batch_label"
REPORT_COLUMNS = {
    "column": "Feature of the logged rows compared with the champion's training rows",
    "method": "Test that decides drift for this feature (as in the drift asset)",
    "severity": "Score scaled so that 1 is the threshold",
    "champion_version": "Champion model version the window was compared with",
}


def batch_labels(delta: DeltaStore, names: SpecAssets) -> pl.DataFrame | None:
    """Labels the batch path has seen, by id (the latest row of each id), when the spec has ids."""
    spec = names.spec
    if not spec.id_columns or delta.version(names.features) is None:
        return None
    return (
        delta.scan(names.features)
        .select(*spec.id_columns, pl.col(spec.target.column).alias(BATCH_LABEL))
        .filter(pl.col(BATCH_LABEL).is_not_null())
        .unique(subset=spec.id_columns, keep="last")
        .collect()
    )


def with_batch_labels(log: pl.DataFrame, labels: pl.DataFrame | None, spec) -> pl.DataFrame:
    """Logged rows, each with its own label or else the batch path's label for its id."""
    if labels is None or labels.height == 0:
        return log
    target = spec.target.column
    joined = log.join(labels, on=spec.id_columns, how="left")
    return joined.with_columns(
        pl.coalesce(target, pl.col(BATCH_LABEL).cast(log.schema[target])).alias(target)
    ).drop(BATCH_LABEL)


def _check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            NO_ONLINE_FEATURE_DRIFT,
            asset=key,
            description="Online feature drift share below spec drift.dataset_drift_share "
            "(warns on any drifted feature).",
        ),
        dg.AssetCheckSpec(
            NO_ONLINE_PREDICTION_DRIFT,
            asset=key,
            description="The champion's scores of online traffic have not moved from its training rows'.",
        ),
        dg.AssetCheckSpec(
            NO_ONLINE_PERFORMANCE_DROP,
            asset=key,
            description="Where online rows have labels, the realized metric is within "
            "drift.max_metric_drop of the champion's test metric.",
        ),
    ]


def build_online_drift_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    task = spec.target.task
    metric_name, _ = PRIMARY_METRIC[task]
    key = names.key("online_drift")

    @dg.asset(
        **names.asset_args(key, "online_drift2"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={"inference_log": dg.AssetIn(key=names.key("inference_log"))},
        deps=[names.promotion],
        check_specs=_check_specs(key),
        description="Feature drift, prediction drift and realized performance of the online "
        "traffic in this window against the champion's training data (as `drift` does for batches).",
    )
    def online_drift(
        context: dg.AssetExecutionContext,
        inference_log: pl.DataFrame,
        mlflow_tracking: MlflowTracking,
        delta: DeltaStore,
    ):
        """How far this window's online traffic moved from the champion's training data."""
        client = mlflow_tracking.client()
        version = champion_version(client, spec.model_name)
        if version is None:
            raise dg.Failure(f"{spec.model_name} has no champion to compare with")
        if inference_log.height == 0:
            yield from _no_traffic(context, spec, version)
            return
        record = champion_record(client, spec.model_name, version, delta.object_store_options())
        model = load_version(spec.model_name, version)
        view = champion_view(
            spec, model, record.scope, record.training_rows(spec.drift.max_sample_rows)
        ).expecting(record.expectations(metric_name))
        settings = view.settings
        rows = with_batch_labels(inference_log, batch_labels(delta, names), spec)
        start, end = rows[EVENT_TIME].min(), rows[EVENT_TIME].max()
        measured = measure_window(view, start, end, rows, model.predict)
        evidence, report = measured.evidence, measured.report
        share, drifted = evidence.drift_share or 0.0, evidence.dataset_drift
        prediction = measured.prediction or {"score": None, "method": None, "drifted": False}
        realized = measured.realized
        champion_metric = record.expectations(metric_name).metric
        drifted_features = list(evidence.drifted_features)
        table = (
            report.with_columns(pl.lit(version).alias("champion_version"))
            if report.height
            else pl.DataFrame(schema=REPORT_SCHEMA).with_columns(
                pl.lit(version).alias("champion_version")
            )
        )
        if names.partitions_def is not None:
            table = table.with_columns(
                pl.lit(inference_log[PARTITION].min(), dtype=pl.Date).alias(PARTITION)
            )
        labelled_rows = measured.labelled_rows
        context.log.info(
            f"{spec.name}: online drift share {share:.2f} over {inference_log.height} rows, "
            f"{labelled_rows} labelled"
        )
        yield dg.Output(
            table,
            data_version=dg.DataVersion(content_hash(table)),
            metadata={
                **table_metadata(table, spec, REPORT_COLUMNS, partitions=partition_count(context)),
                "champion_version": dg.MetadataValue.int(int(version)),
                "online_rows": dg.MetadataValue.int(inference_log.height),
                "requests": dg.MetadataValue.int(inference_log[REQUEST_ID].n_unique()),
                "labelled_rows": dg.MetadataValue.int(labelled_rows),
                "unseen_rows": dg.MetadataValue.int(measured.unseen_rows),
                "drift_share": ratio(share),
                "dataset_drift": dg.MetadataValue.bool(drifted),
                "drifted_features": names_text(drifted_features),
                "prediction_drift_score": metric(prediction["score"] or 0.0),
                "prediction_drift_method": str(prediction["method"]),
                f"realized_{metric_name}": metric(realized),
                f"champion_test_{metric_name}": metric(champion_metric),
                "unseen_category_values": dg.MetadataValue.int(
                    sum(model.encoding.unseen_categories(inference_log).values())
                ),
                "out_of_range_values": dg.MetadataValue.int(
                    sum(model.encoding.out_of_range(inference_log).values())
                ),
                "feature_drift": feature_drift_table(report),
            },
        )
        yield dg.AssetCheckResult(
            check_name=NO_ONLINE_FEATURE_DRIFT,
            passed=not drifted_features,
            severity=dg.AssetCheckSeverity.ERROR if drifted else dg.AssetCheckSeverity.WARN,
            description=f"{len(drifted_features)} of {report.height} features drifted online "
            f"(share {share:.2f}, limit {settings.dataset_drift_share}): "
            f"{', '.join(drifted_features[:5]) or 'none'}",
        )
        yield dg.AssetCheckResult(
            check_name=NO_ONLINE_PREDICTION_DRIFT,
            passed=not prediction.get("drifted"),
            severity=dg.AssetCheckSeverity.WARN,
            description=f"prediction {prediction.get('method')} {significant(prediction.get('score'))}, "
            f"PSI {significant(prediction.get('psi'))}",
        )
        dropped = (
            realized is not None
            and champion_metric is not None
            and realized < champion_metric - spec.drift.max_metric_drop
        )
        yield dg.AssetCheckResult(
            check_name=NO_ONLINE_PERFORMANCE_DROP,
            passed=not dropped,
            description=(
                f"realized {metric_name} {realized:.4f} on {labelled_rows} labelled online rows "
                f"vs the champion's per-window test {champion_metric:.4f} (allowed drop "
                f"{spec.drift.max_metric_drop})"
                if realized is not None and champion_metric is not None
                else f"{labelled_rows} labelled online rows in this window (at least "
                f"{spec.retraining.min_labelled_rows} needed)"
            ),
        )

    return online_drift


def _no_traffic(context: dg.AssetExecutionContext, spec, version: str):
    """An empty report and passing checks for a window the service answered no request in."""
    table = pl.DataFrame(schema=REPORT_SCHEMA).with_columns(
        pl.lit(version).alias("champion_version")
    )
    if spec.is_partitioned:
        table = table.with_columns(pl.lit(None, dtype=pl.Date).alias(PARTITION))
    yield dg.Output(
        table,
        data_version=dg.DataVersion(content_hash(table)),
        metadata={
            **table_metadata(table, spec, REPORT_COLUMNS, partitions=partition_count(context)),
            "champion_version": dg.MetadataValue.int(int(version)),
            "online_rows": dg.MetadataValue.int(0),
        },
    )
    for name in (NO_ONLINE_FEATURE_DRIFT, NO_ONLINE_PREDICTION_DRIFT, NO_ONLINE_PERFORMANCE_DROP):
        yield dg.AssetCheckResult(
            check_name=name, passed=True, description="no online traffic in this window"
        )
