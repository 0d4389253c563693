"""Metadata every asset reports, in the keys the UI knows (the convention is docs/metadata.md)."""

import math
from collections.abc import Callable, Mapping

import dagster as dg
import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW, WINDOW
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.split import ROW_KEY, SPLIT
from mlops_assets.validation.rules import REJECTION_REASONS

MAX_SAMPLE_ROWS = 10
ROW_COUNT = "dagster/row_count"
COLUMN_SCHEMA = "dagster/column_schema"

PLATFORM_COLUMNS = {
    EVENT_TIME: "Event time parsed from the spec's time column (UTC)",
    PARTITION: "Dagster partition (day, week or month) the row is stored and materialized in",
    WINDOW: "Monitoring window (time.grain) the row belongs to: drift and realized metrics are per window",
    SOURCE_ROW: "Position of the row in the source (time order, `time.order: rows`)",
    SPLIT: "Which split the row is in: train, valid or test",
    ROW_KEY: "Stable hash of the row's identifying values (seeds the random split)",
    REJECTION_REASONS: "Every broken rule of the row, as column: rule (value)",
}


def column_description(spec: DatasetSpec, name: str, descriptions: dict[str, str]) -> str | None:
    """What a column means: the spec's description first, then the asset's own (feature lineage,
    report columns), then the platform's columns, the target and PII."""
    declared = spec.columns.get(name)
    if declared and declared.description:
        return declared.description
    if name in descriptions:
        return descriptions[name]
    if name in PLATFORM_COLUMNS:
        return PLATFORM_COLUMNS[name]
    if name == spec.target.column:
        return f"Target ({spec.target.task})"
    if name in spec.id_columns:
        return "Identifier of the row (spec id_columns)"
    if spec.pii.actions().get(name) == "hash":
        return "Personal data, replaced by a keyed HMAC before storage"
    return None


def column_schema(
    frame: pl.DataFrame, spec: DatasetSpec, descriptions: dict[str, str] | None = None
) -> dg.MetadataValue:
    """The table's columns, each with a description (see `column_description`)."""
    descriptions = descriptions or {}
    columns = [
        dg.TableColumn(
            name=name, type=str(dtype), description=column_description(spec, name, descriptions)
        )
        for name, dtype in frame.schema.items()
    ]
    return dg.MetadataValue.table_schema(dg.TableSchema(columns=columns))


def markdown_sample(
    frame: pl.DataFrame, rows: int = MAX_SAMPLE_ROWS, max_columns: int = 12
) -> dg.MetadataValue:
    """A few rows as a markdown table, text cells clipped."""
    sample = frame.head(rows)
    if sample.width > max_columns:
        sample = sample.select(sample.columns[: max_columns - 2] + sample.columns[-2:])
    header = "| " + " | ".join(sample.columns) + " |\n|" + "---|" * sample.width + "\n"
    body = "".join(
        "| " + " | ".join(str(v)[:60].replace("|", "\\|").replace("\n", " ") for v in row) + " |\n"
        for row in sample.iter_rows()
    )
    return dg.MetadataValue.md(header + body if sample.height else "_no rows_")


def partition_count(context: dg.AssetExecutionContext) -> int:
    """How many partitions this materialization covers (1 for an unpartitioned asset)."""
    if context.has_partition_key_range or context.has_partition_key:
        return len(context.partition_keys)
    return 1


def record_per_partition(
    context: dg.AssetExecutionContext,
    build: Callable[[list[str]], Mapping[str, Mapping[str, object]]],
) -> None:
    """In a run over several partitions, give each partition its own figures (`build(keys)`,
    by key) on top of the output's, which Dagster stamps on every partition of the run: the
    UI's plots over partitions then draw real series (docs/metadata.md, "Numbers plotted over
    time"). A run of one partition, or of an unpartitioned asset, has nothing to add and never
    calls `build`."""
    if partition_count(context) < 2:
        return
    keys = list(context.partition_keys)
    per_partition = build(keys)
    for key in keys:
        context.add_asset_metadata(dict(per_partition[key]), partition_key=key)


def row_count_metadata(rows: int, partitions: int) -> dict:
    """Row count in the UI's key, unless one materialization covers many partitions.

    A single-run backfill attaches the same metadata to every partition it wrote,
    so there the count is labelled as the whole run's, not the partition's.
    """
    if partitions == 1:
        return {ROW_COUNT: dg.MetadataValue.int(rows)}
    return {
        "rows_in_run": dg.MetadataValue.int(rows),
        "partitions_in_run": dg.MetadataValue.int(partitions),
    }


def table_metadata(
    frame: pl.DataFrame,
    spec: DatasetSpec,
    descriptions: dict[str, str] | None = None,
    partitions: int = 1,
) -> dict:
    """Row count and column schema: what every table asset reports (the IO manager adds its Delta version)."""
    return {
        **row_count_metadata(frame.height, partitions),
        COLUMN_SCHEMA: column_schema(frame, spec, descriptions),
    }


def mlflow_link(url: str | None, identifier: str) -> dg.MetadataValue:
    """A link into the MLflow UI when one is configured (`MLFLOW_UI_URL`), else the plain identifier."""
    return dg.MetadataValue.url(url) if url else dg.MetadataValue.text(identifier)


def inline_figure(title: str, url: str) -> dg.MarkdownMetadataValue:
    """A picture shown in the asset page itself: a one-line markdown image of a figure the
    MLflow server sends (the UI renders markdown under 1,000 characters inline; an embedded
    PNG would be longer and hide behind "[Show Markdown]")."""
    return dg.MetadataValue.md(f"![{title}]({url})")


# --- Numbers and tables built for reading (docs/metadata.md, "Numbers an analyst reads") ---

METRIC_DIGITS = 4
RATIO_DECIMALS = 3
MS_DECIMALS = 1
MAX_TABLE_ROWS = 50
Number = float | int | None


def significant(value: Number, digits: int = METRIC_DIGITS) -> float | None:
    """`value` rounded to `digits` significant digits (NaN, infinities and None pass unchanged)."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or number == 0:
        return number
    return round(number, digits - 1 - math.floor(math.log10(abs(number))))


def rounded_ratio(value: Number) -> float | None:
    """A share between 0 and 1 to 3 decimals; a nonzero share under 1 % keeps 2 significant
    digits, so a small share never reads as 0."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return number
    if 0 < abs(number) < 0.01:
        return significant(number, 2)
    return round(number, RATIO_DECIMALS)


def metric(value: Number) -> dg.FloatMetadataValue:
    """A model metric, score or statistic: 4 significant digits (0.8123, 12.35)."""
    return dg.MetadataValue.float(_or_nan(significant(value)))


def ratio(value: Number) -> dg.FloatMetadataValue:
    """A share of rows or features, 0 to 1 (keys end in `_share`): 3 decimals."""
    return dg.MetadataValue.float(_or_nan(rounded_ratio(value)))


def milliseconds(value: Number) -> dg.FloatMetadataValue:
    """A latency in milliseconds (keys end in `_ms`): 1 decimal; under 0.1 ms, 1 significant
    digit, so a fast call never reads as 0."""
    number = None if value is None else float(value)
    if number is not None and math.isfinite(number):
        number = significant(number, 1) if 0 < abs(number) < 0.1 else round(number, MS_DECIMALS)
    return dg.MetadataValue.float(_or_nan(number))


def per_second(value: Number) -> dg.FloatMetadataValue:
    """A throughput (keys end in `_per_second`): 4 significant digits."""
    return metric(value)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _column_type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_temporal():
        return "datetime"
    return "string"


def _cell(value, digits: int):
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return significant(value, digits) if math.isfinite(value) else None
    return str(value)


def records_table(
    frame: pl.DataFrame,
    descriptions: dict[str, str],
    digits: int = METRIC_DIGITS,
    max_rows: int = MAX_TABLE_ROWS,
) -> dg.TableMetadataValue:
    """A report as a Dagster table: typed columns, each described, floats to `digits` significant
    digits, at most `max_rows` rows. The UI draws it as a table that scrolls, not a cut-off markdown.
    Every column needs a description: what it means to the reader, with its unit."""
    missing = [c for c in frame.columns if c not in descriptions]
    if missing:
        raise ValueError(f"records_table: no description for column(s) {missing}")
    columns = [
        dg.TableColumn(name=name, type=_column_type(dtype), description=descriptions[name])
        for name, dtype in frame.schema.items()
    ]
    records = [
        dg.TableRecord({k: _cell(v, digits) for k, v in row.items()})
        for row in frame.head(max_rows).iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


def table_rows(value) -> list[dict]:
    """The rows of a table metadata value as plain dicts (what readers of `records_table` use)."""
    records = getattr(value, "records", None)
    return [dict(record.data) for record in records] if records is not None else []


def names_text(names: list[str] | tuple[str, ...], empty: str = "none") -> dg.TextMetadataValue:
    """A list of names as one line of text (`a, b, c`), not a JSON blob of one line per name."""
    return dg.MetadataValue.text(", ".join(str(n) for n in names) or empty)


def names_of(value) -> list[str]:
    """The names `names_text` wrote (a JSON list from before that is read as is)."""
    value = getattr(value, "value", value)
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if not value or value == "none":
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


METRIC_DESCRIPTIONS = {
    "roc_auc": "ROC AUC: chance a positive row is scored above a negative one (0.5 = guessing, 1 = perfect)",
    "pr_auc": "Average precision over all thresholds (positive-rate = guessing, 1 = perfect)",
    "log_loss": "Log loss of the predicted probabilities (lower is better)",
    "brier": "Brier score: mean squared error of the probability (lower is better)",
    "f1": "F1 of the positive class at the decision threshold",
    "accuracy": "Share of rows predicted right (0 to 1)",
    "positive_rate": "Share of rows with the positive label (0 to 1)",
    "macro_f1": "F1 averaged over the classes, each class weighing the same",
    "rmse": "Root mean squared error, in the target's unit",
    "mae": "Mean absolute error, in the target's unit",
    "r2": "Share of the target's variance explained (0 = predicting the mean, 1 = perfect)",
}
