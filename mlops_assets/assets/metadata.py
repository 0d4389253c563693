"""Metadata every asset reports, in the keys the UI knows (the convention is docs/metadata.md)."""

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
