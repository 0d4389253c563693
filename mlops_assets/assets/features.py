"""The features asset: model inputs for each validated row."""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import partition_count, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.features.build import all_null_features, build_features
from mlops_assets.versioning import content_hash

NO_FEATURE_IS_ALL_NULL = "no_feature_is_all_null"


def _lineage_markdown(lineage: dict[str, str], excluded: dict[str, str]) -> str:
    rows = "".join(f"| `{name}` | {origin} |\n" for name, origin in lineage.items())
    left_out = "".join(f"| `{name}` | {why} |\n" for name, why in excluded.items())
    return (
        "**Candidate features**\n\n| feature | comes from |\n|---|---|\n"
        + rows
        + "\n**Never features**\n\n| column | reason |\n|---|---|\n"
        + (left_out or "| - | - |\n")
    )


def build_features_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.asset(
        **names.asset_args(names.features, "features2"),
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
                "features": dg.MetadataValue.json(table.candidates),
                "lineage": dg.MetadataValue.md(_lineage_markdown(table.lineage, table.excluded)),
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
            metadata={"all_null_features": dg.MetadataValue.json(dead)},
        )

    return features
