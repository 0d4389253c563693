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


def table_metadata(
    frame: pl.DataFrame, spec: DatasetSpec, lineage: dict[str, str] | None = None
) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(frame.height),
        "dagster/column_schema": column_schema(frame, spec, lineage),
    }
