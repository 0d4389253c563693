"""The training set asset: every feature row, labelled train, valid or test."""

import datetime as dt

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import records_table, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.ingest.raw_batch import EVENT_TIME, SOURCE_ROW
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import ROW_KEY, SPLIT, assign_split, is_time_split
from mlops_assets.versioning import content_hash

TEST_WINDOW_IS_ISOLATED = "test_window_is_isolated"
HAS_ENOUGH_TRAINING_ROWS = "has_enough_training_rows"
DATA_THROUGH = "data_through"


def data_through(spec, frame: pl.DataFrame) -> dt.datetime:
    """The event time of the newest row in a training set (for a table without time: now, UTC).

    A model trained on this set has been judged on everything up to here, so
    drift-triggered retraining waits one cooldown past it.
    """
    if is_time_split(spec, frame):
        return frame[EVENT_TIME].max()
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


SPLIT_COLUMNS = {
    "split": "train (fitted on), valid (early stopping, threshold) or test (judged on)",
    "rows": "Rows in the split",
    "first": "Event time of the split's first row (UTC)",
    "last": "Event time of the split's last row (UTC)",
    "target_mean": "Mean of the target in the split (binary: the positive rate, 0 to 1)",
}


def split_summary(frame: pl.DataFrame, target: str, task: str) -> pl.DataFrame:
    aggregations = [pl.len().alias("rows")]
    if EVENT_TIME in frame.columns:
        aggregations += [
            pl.col(EVENT_TIME).min().alias("first"),
            pl.col(EVENT_TIME).max().alias("last"),
        ]
    if task != "multiclass":
        aggregations.append(pl.col(target).cast(pl.Float64).mean().alias("target_mean"))
    order = {"train": 0, "valid": 1, "test": 2}
    return (
        frame.group_by(SPLIT)
        .agg(aggregations)
        .sort(pl.col(SPLIT).replace_strict(order, return_dtype=pl.Int8))
        .rename({SPLIT: "split"})
    )


def test_isolation(frame: pl.DataFrame, time_based: bool) -> tuple[bool, str]:
    """The test rows come strictly after (time) or apart from (random) every training row."""
    train = frame.filter(pl.col(SPLIT) != "test")
    test = frame.filter(pl.col(SPLIT) == "test")
    if time_based:
        order = EVENT_TIME if EVENT_TIME in frame.columns else SOURCE_ROW
        last_train, first_test = train[order].max(), test[order].min()
        return bool(
            last_train < first_test
        ), f"last train/valid row {last_train}, first test row {first_test}"
    shared = train.join(test, on=ROW_KEY, how="semi").height
    return shared == 0, f"{shared} test rows also in train/valid"


def build_training_set_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.asset(
        **names.asset_args(names.training_set, "training_set3"),
        kinds={"polars", "deltalake"},
        io_manager_key=DELTA_IO_MANAGER,
        ins={"features": dg.AssetIn(key=names.features)},
        check_specs=[
            dg.AssetCheckSpec(
                TEST_WINDOW_IS_ISOLATED,
                asset=names.training_set,
                blocking=True,
                description="No test row is in, or earlier than, the train and validation windows.",
            ),
            dg.AssetCheckSpec(
                HAS_ENOUGH_TRAINING_ROWS,
                asset=names.training_set,
                blocking=True,
                description="The train split has at least quality.min_rows rows.",
            ),
        ],
        description="All feature rows split into train, validation and test windows.",
    )
    def training_set(context: dg.AssetExecutionContext, features: pl.DataFrame):
        """The split the model is fitted, stopped and judged on; its Delta version pins a model's data."""
        frame, windows = assign_split(spec, features)
        summary = split_summary(frame, spec.target.column, spec.target.task)
        counts = dict(zip(summary["split"], summary["rows"], strict=True))
        context.log.info(f"{spec.name}: training set {counts}")
        scope = TrainingScope.of_training_set(spec, frame)
        yield dg.Output(
            frame,
            data_version=dg.DataVersion(content_hash(frame)),
            metadata={
                **table_metadata(frame, spec),
                **{f"rows_{name}": dg.MetadataValue.int(int(n)) for name, n in counts.items()},
                "windows": dg.MetadataValue.json(windows),
                DATA_THROUGH: data_through(spec, frame).isoformat(),
                "learnt_from": scope.describe(),
                "splits": records_table(
                    summary.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M")),
                    SPLIT_COLUMNS,
                ),
            },
        )
        isolated, detail = test_isolation(frame, spec.time is not None)
        yield dg.AssetCheckResult(
            check_name=TEST_WINDOW_IS_ISOLATED, passed=isolated, description=detail
        )
        train_rows = int(counts.get("train", 0))
        yield dg.AssetCheckResult(
            check_name=HAS_ENOUGH_TRAINING_ROWS,
            passed=train_rows >= spec.quality.min_rows,
            description=f"{train_rows} training rows (minimum {spec.quality.min_rows})",
            metadata={"train_rows": dg.MetadataValue.int(train_rows)},
        )

    return training_set
