"""The predictions asset: each partition scored by the champion of the day."""

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.assets.metadata import (
    metric,
    milliseconds,
    partition_count,
    per_second,
    ratio,
    record_per_partition,
    records_table,
    table_metadata,
)
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.features.build import INTERNAL_COLUMNS
from mlops_assets.ingest.raw_batch import PARTITION
from mlops_assets.serving.champion import champion_version
from mlops_assets.serving.reference import champion_record
from mlops_assets.serving.registered import load_version
from mlops_assets.serving.scoring import score_distribution, score_frame, score_histogram
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

PREDICTION = "prediction"
MODEL_VERSION = "model_version"
IN_TRAINING_DATA = "in_training_data"
ROW_HASH = "_row_hash"
PREDICTION_COLUMNS = {
    PREDICTION: "The champion's score (binary: probability of the positive label; multiclass: the label)",
    MODEL_VERSION: "Registered model version that scored the row",
    IN_TRAINING_DATA: "Whether the scoring model trained on this row; monitoring leaves such rows out",
    ROW_HASH: "Hash of the feature row that was scored (joins a score back to its row)",
}


HISTOGRAM_COLUMNS = {
    "lower_bound": "Scores above this value (the first bucket: from the lowest score)",
    "upper_bound": "Scores at or below this value",
    "rows": "Scored rows in the bucket",
    "share": "Share of the scored rows in the bucket (0 to 1)",
}
COUNT_COLUMNS = {
    "column": "Model input",
    "values": "Values the champion never saw in training (a category) or outside its training range",
}


def histogram_table(histogram: dict) -> dg.TableMetadataValue:
    """The score distribution of the run as a table of buckets (what `score_histogram` counts)."""
    bounds, counts = histogram["upper_bounds"], histogram["counts"]
    total = max(sum(counts), 1)
    lows = [None, *bounds[:-1]]
    frame = pl.DataFrame(
        {
            "lower_bound": lows,
            "upper_bound": bounds,
            "rows": counts,
            "share": [c / total for c in counts],
        },
        schema={
            "lower_bound": pl.Float64,
            "upper_bound": pl.Float64,
            "rows": pl.Int64,
            "share": pl.Float64,
        },
    )
    return records_table(frame, HISTOGRAM_COLUMNS)


def counts_table(counts: dict[str, int]) -> dg.MetadataValue:
    """Counts per column as a table, largest first; a line of text when there are none."""
    if not counts:
        return dg.MetadataValue.text("none")
    frame = pl.DataFrame(
        {"column": list(counts), "values": list(counts.values())},
        schema={"column": pl.String, "values": pl.Int64},
    ).sort("values", descending=True)
    return records_table(frame, COUNT_COLUMNS)


def feature_row_hash(features: pl.DataFrame) -> pl.Series:
    """The key that joins a stored score back to the feature row it was computed from."""
    return (features.hash_rows(seed=0) // 2).cast(pl.Int64).alias(ROW_HASH)


def prediction_frame(
    spec, features: pl.DataFrame, scores: np.ndarray, classes: list[str], version: str
) -> pl.DataFrame:
    """Keys, label (when known) and the champion's prediction for each row."""
    keep = [
        c
        for c in (*INTERNAL_COLUMNS, *spec.id_columns, spec.target.column)
        if c in features.columns
    ]
    frame = features.select(keep).with_columns(feature_row_hash(features))
    if spec.target.task == "multiclass":
        labels = [classes[i] for i in np.asarray(scores).argmax(axis=1)] if len(scores) else []
        frame = frame.with_columns(
            pl.Series(PREDICTION, labels, dtype=pl.String),
            *[pl.Series(f"score_{c}", np.asarray(scores)[:, i]) for i, c in enumerate(classes)],
        )
    else:
        frame = frame.with_columns(pl.Series(PREDICTION, scores, dtype=pl.Float64))
    return frame.with_columns(pl.lit(version).alias(MODEL_VERSION))


def stored_scores(predictions: pl.DataFrame, classes: list[str], task: str) -> pl.DataFrame:
    """One score (or class-probability row) per scored feature-row hash."""
    columns = [f"score_{c}" for c in classes] if task == "multiclass" else [PREDICTION]
    return predictions.select(ROW_HASH, *columns).unique(ROW_HASH, keep="first")


def build_predictions_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.asset(
        **names.asset_args(names.predictions, "predictions3"),
        kinds={"mlflow", "polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={"features": dg.AssetIn(key=names.features)},
        deps=[names.promotion],
        description=f"Every row scored by the champion (`models:/{spec.model_name}@champion`), "
        "with serving latency and the prediction distribution.",
    )
    def predictions(
        context: dg.AssetExecutionContext,
        features: pl.DataFrame,
        mlflow_tracking: MlflowTracking,
        delta: DeltaStore,
    ) -> dg.Output[pl.DataFrame]:
        """Batch scores by the current champion; unseen categories and out-of-range values are
        counted on the rows it never trained on (its own training rows would inflate nothing but noise)."""
        client = mlflow_tracking.client()
        version = champion_version(client, spec.model_name)
        if version is None:
            raise dg.Failure(
                f"{spec.model_name} has no champion yet: materialize {names.promotion.to_user_string()}"
            )
        model = load_version(spec.model_name, version)
        scope = champion_record(
            client, spec.model_name, version, delta.object_store_options()
        ).scope
        scored = score_frame(model, features)
        seen = scope.seen(features)
        frame = prediction_frame(
            spec, features, scored.scores, model.encoding.classes, version
        ).with_columns(seen.alias(IN_TRAINING_DATA))
        monitored = features.filter(~seen)
        distribution = score_distribution(spec.target.task, scored.scores, model.encoding.classes)
        unseen_categories = model.encoding.unseen_categories(monitored)
        out_of_range = model.encoding.out_of_range(monitored)
        context.log.info(
            f"{spec.name}: scored {frame.height} rows with v{version} at {scored.rows_per_second:,.0f} rows/s"
            f" ({monitored.height} of them never seen in training)"
        )

        def own_distributions(keys: list[str]) -> dict[str, dict]:
            """Each partition's score distribution (NaN where the run scored none of its rows)."""
            partition_of_row = features[PARTITION].cast(pl.String).to_numpy()
            per_partition = {}
            for key in keys:
                mine = scored.scores[partition_of_row == key]
                own = score_distribution(spec.target.task, mine, model.encoding.classes)
                per_partition[key] = {
                    "partition_rows": dg.MetadataValue.int(len(mine)),
                    **{
                        f"prediction_{k}": ratio(own.get(k))
                        if k.startswith("share_")
                        else metric(own.get(k))
                        for k in distribution
                    },
                }
            return per_partition

        if PARTITION in features.columns:
            record_per_partition(context, own_distributions)
        return dg.Output(
            frame,
            data_version=dg.DataVersion(content_hash(frame)),
            metadata={
                **table_metadata(
                    frame, spec, PREDICTION_COLUMNS, partitions=partition_count(context)
                ),
                "model_version": dg.MetadataValue.int(int(version)),
                "rows_per_second": per_second(scored.rows_per_second),
                "latency_p50_ms": milliseconds(scored.latency_quantile(0.5)),
                "latency_p95_ms": milliseconds(scored.latency_quantile(0.95)),
                "monitored_rows": dg.MetadataValue.int(monitored.height),
                "rows_in_champion_training": dg.MetadataValue.int(
                    features.height - monitored.height
                ),
                "unseen_category_values": dg.MetadataValue.int(sum(unseen_categories.values())),
                "out_of_range_values": dg.MetadataValue.int(sum(out_of_range.values())),
                "unseen_categories": counts_table(unseen_categories),
                "out_of_range": counts_table(out_of_range),
                **{
                    f"prediction_{k}": ratio(v) if k.startswith("share_") else metric(v)
                    for k, v in distribution.items()
                },
                "prediction_histogram": histogram_table(
                    score_histogram(spec.target.task, scored.scores)
                ),
            },
        )

    return predictions
