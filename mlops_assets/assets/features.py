"""The features asset: model inputs for each validated row."""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import names_text, partition_count, records_table, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.features.build import all_null_features, build_features
from mlops_assets.versioning import content_hash

NO_FEATURE_IS_ALL_NULL = "no_feature_is_all_null"


LINEAGE_COLUMNS = {
    "column": "Column of the features table",
    "role": "candidate (the model may use it) or never (left out by rule)",
    "detail": "Where a candidate comes from, or why a column is never a feature",
}


def lineage_table(lineage: dict[str, str], excluded: dict[str, str]) -> dg.TableMetadataValue:
    """Every candidate feature with its origin, then every column left out with the reason."""
    frame = pl.DataFrame(
        {
            "column": [*lineage, *excluded],
            "role": ["candidate"] * len(lineage) + ["never"] * len(excluded),
            "detail": [*lineage.values(), *excluded.values()],
        },
        schema={"column": pl.String, "role": pl.String, "detail": pl.String},
    )
    return records_table(frame, LINEAGE_COLUMNS, max_rows=200)


def build_features_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.asset(
        **names.asset_args(names.features, "features3"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={"validated": dg.AssetIn(key=names.validated)},
        check_specs=[
            dg.AssetCheckSpec(
                NO_FEATURE_IS_ALL_NULL,
                asset=names.features,
                blocking=True,
                description="No candidate feature is null in every row (a dead feed). Over the "
                "whole table or a multi-partition run it blocks; in a single partition it warns.",
            )
        ],
        description="Candidate model inputs per row: validated columns, time parts and declared joins.",
    )
    def features(context: dg.AssetExecutionContext, validated: pl.DataFrame):
        """Feature rows with their lineage; leaking and identifier columns are left out by rule."""
        table = build_features(spec, validated)
        context.log.info(
            f"{spec.name}: built {len(table.candidates)} candidate features for {table.frame.height} rows"
        )
        dead = all_null_features(table)
        partitions = partition_count(context)
        yield dg.Output(
            table.frame,
            data_version=dg.DataVersion(content_hash(table.frame)),
            metadata={
                **table_metadata(
                    table.frame, spec, table.lineage, partitions=partition_count(context)
                ),
                "feature_count": dg.MetadataValue.int(len(table.candidates)),
                "features": names_text(table.candidates),
                "lineage": lineage_table(table.lineage, table.excluded),
            },
        )
        whole = not spec.is_partitioned or partitions > 1
        yield dg.AssetCheckResult(
            check_name=NO_FEATURE_IS_ALL_NULL,
            passed=not dead,
            severity=dg.AssetCheckSeverity.ERROR if whole else dg.AssetCheckSeverity.WARN,
            description=(
                f"{spec.source.uri}: feature column(s) {', '.join(dead)} are null in all "
                f"{table.frame.height} rows (rule: feature.not_all_null): a dead feed? Fix the "
                "source, or list the column in exclude_columns"
                if dead
                else f"every one of {len(table.candidates)} candidate features has values"
            ),
            metadata={"all_null_features": names_text(dead)},
        )

    return features
