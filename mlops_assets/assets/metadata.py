"""Metadata every table asset reports, in the keys the UI knows."""

import dagster as dg
import polars as pl

from mlops_assets.specs.model import DatasetSpec

MAX_SAMPLE_ROWS = 10


def column_schema(
    frame: pl.DataFrame, spec: DatasetSpec, lineage: dict[str, str] | None = None
) -> dg.MetadataValue:
    """The table's columns, with descriptions from the spec (or the feature lineage)."""
    lineage = lineage or {}
    columns = []
    for name, dtype in frame.schema.items():
        declared = spec.columns.get(name)
        description = (declared.description if declared else None) or lineage.get(name)
        columns.append(dg.TableColumn(name=name, type=str(dtype), description=description))
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
        return {"dagster/row_count": dg.MetadataValue.int(rows)}
    return {
        "rows_in_run": dg.MetadataValue.int(rows),
        "partitions_in_run": dg.MetadataValue.int(partitions),
    }


def table_metadata(
    frame: pl.DataFrame,
    spec: DatasetSpec,
    lineage: dict[str, str] | None = None,
    partitions: int = 1,
) -> dict:
    return {
        **row_count_metadata(frame.height, partitions),
        "dagster/column_schema": column_schema(frame, spec, lineage),
    }
