"""The features asset: model inputs for each validated row."""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import partition_count, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.features.build import build_features
from mlops_assets.versioning import content_hash


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
        **names.asset_args(names.features, "features1"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={"validated": dg.AssetIn(key=names.validated)},
        description="Candidate model inputs per row: validated columns, time parts and declared joins.",
    )
    def features(
        context: dg.AssetExecutionContext, validated: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        """Feature rows with their lineage; leaking and identifier columns are left out by rule."""
        table = build_features(spec, validated)
        context.log.info(
            f"{spec.name}: built {len(table.candidates)} candidate features for {table.frame.height} rows"
        )
        return dg.Output(
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

    return features
