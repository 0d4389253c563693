"""The raw asset: one window of the source, as read, with personal data protected."""

import dagster as dg

from mlops_assets.assets.metadata import partition_count, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.ingest.raw_batch import read_raw_batch
from mlops_assets.validation.rules import required_columns
from mlops_assets.versioning import content_hash
from resources.pii import PiiProtection

REQUIRED_COLUMNS_PRESENT = "required_columns_present"


def build_raw_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.asset(
        **names.asset_args(names.raw, "raw1"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        check_specs=[
            dg.AssetCheckSpec(
                REQUIRED_COLUMNS_PRESENT,
                asset=names.raw,
                blocking=True,
                description="Every column the spec relies on is in the source (the schema's shape).",
            )
        ],
        description=f"Rows of `{spec.source.uri}` as read, one {spec.time.grain if spec.time else 'whole'} "
        "window at a time, with PII dropped or hashed before storage.",
    )
    def raw(context: dg.AssetExecutionContext, pii: PiiProtection):
        """The source rows of this window exactly as the source holds them (declared columns as text)."""
        window = None
        if context.has_partition_key_range or context.has_partition_key:
            time_window = context.partition_time_window
            window = (time_window.start, time_window.end)
        batch = read_raw_batch(spec, window, pii.key_bytes())
        context.log.info(f"{spec.name}: ingested {batch.frame.height} rows from {spec.source.uri}")
        yield dg.Output(
            batch.frame,
            data_version=dg.DataVersion(content_hash(batch.frame)),
            metadata={
                **table_metadata(batch.frame, spec, partitions=partition_count(context)),
                "source_uri": dg.MetadataValue.text(spec.source.uri),
                "source_fingerprint": dg.MetadataValue.text(batch.fingerprint),
                "rows_without_time_in_source": dg.MetadataValue.int(batch.rows_without_time),
                "pii_columns": dg.MetadataValue.text(
                    ", ".join(f"{c} ({a})" for c, a in spec.pii.actions().items()) or "none"
                ),
            },
        )
        missing = [c for c in required_columns(spec) if c not in batch.frame.columns]
        yield dg.AssetCheckResult(
            check_name=REQUIRED_COLUMNS_PRESENT,
            passed=not missing,
            description=(
                f"{spec.source.uri}: missing column(s) {', '.join(missing)} (rule: column_present)"
                if missing
                else f"all {len(required_columns(spec))} required columns present"
            ),
            metadata={"missing_columns": dg.MetadataValue.json(missing)},
        )

    return raw
