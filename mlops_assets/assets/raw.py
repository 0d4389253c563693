"""The raw asset: one window of the source, as read, with personal data protected."""

import dagster as dg

from mlops_assets.assets.metadata import names_text, partition_count, ratio, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.ingest.raw_batch import RawBatch, read_raw_batch
from mlops_assets.specs.model import DatasetSpec, normalized_name
from mlops_assets.validation.rules import required_columns
from mlops_assets.versioning import content_hash
from resources.pii import PiiProtection

REQUIRED_COLUMNS_PRESENT = "required_columns_present"
EVENT_TIMES_PARSE = "event_times_parse"


def missing_columns_message(spec: DatasetSpec, missing: list[str], columns: list[str]) -> str:
    """Which required columns the source lacks, with near-misses and a one-column hint."""
    message = f"{spec.source.uri}: missing column(s) {', '.join(missing)} (rule: column_present)"
    lookalikes = [
        f"`{c}` looks like `{m}`"
        for m in missing
        for c in columns
        if normalized_name(c) == normalized_name(m)
    ]
    if lookalikes:
        message += f"; {', '.join(lookalikes)}: names must match exactly"
    elif len(columns) == 1:
        message += (
            f"; the source reads as one column `{columns[0][:60]}`: check source.csv.separator"
        )
    return message


def _window_metadata(batch: RawBatch) -> dict:
    """Where every source row went: this window, or outside it and why (the ingestion contract)."""
    return {
        "source_rows": dg.MetadataValue.int(batch.source_rows),
        "rows_out_of_window": dg.MetadataValue.int(batch.out_of_window),
        "rows_before_start": dg.MetadataValue.int(batch.rows_before_start),
        "rows_after_end": dg.MetadataValue.int(batch.rows_after_end),
        "rows_in_other_partitions": dg.MetadataValue.int(batch.rows_outside_run),
        "rows_without_time_in_source": dg.MetadataValue.int(batch.rows_without_time),
        "rows_without_time_in_batch": dg.MetadataValue.int(
            batch.rows_without_time if batch.timeless_in_batch else 0
        ),
    }


def _first_partition_if_covered(names: SpecAssets, window) -> object:
    """The spec's first partition date when this run covers it: rows without time go there."""
    partitions = names.partitions_def
    if partitions is None:
        return None
    first = partitions.get_first_partition_window()
    if first is None:
        return None
    start = first.start.replace(tzinfo=None)
    if window is None or window[0].replace(tzinfo=None) <= start < window[1].replace(tzinfo=None):
        return start.date()
    return None


def build_raw_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    checks = [
        dg.AssetCheckSpec(
            REQUIRED_COLUMNS_PRESENT,
            asset=names.raw,
            blocking=True,
            description="Every column the spec relies on is in the source (the schema's shape).",
        )
    ]
    if spec.is_partitioned:
        checks.append(
            dg.AssetCheckSpec(
                EVENT_TIMES_PARSE,
                asset=names.raw,
                blocking=False,
                description="The share of source rows whose event time is missing or does not "
                "parse is within quality.max_rejected_share. Those rows are rejected, never "
                "dropped: not blocking here, so validation can store them in rejected_rows, "
                "where rejected_share_within_limit blocks.",
            )
        )
    grain = spec.event_time.grain if spec.event_time else "whole"

    @dg.asset(
        **names.asset_args(names.raw, "raw3"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        check_specs=checks,
        description=f"Rows of `{spec.source.uri}` as read, one {grain} "
        "window at a time, with PII dropped or hashed before storage.",
    )
    def raw(context: dg.AssetExecutionContext, pii: PiiProtection):
        """The source rows of this window exactly as the source holds them (declared columns as text)."""
        window = None
        if context.has_partition_key_range or context.has_partition_key:
            time_window = context.partition_time_window
            window = (time_window.start, time_window.end)
        batch = read_raw_batch(
            spec, window, pii.key_bytes(), _first_partition_if_covered(names, window)
        )
        context.log.info(
            f"{spec.name}: ingested {batch.frame.height} of {batch.source_rows} source rows from "
            f"{spec.source.uri} ({batch.out_of_window} outside this window)"
        )
        yield dg.Output(
            batch.frame,
            data_version=dg.DataVersion(content_hash(batch.frame)),
            metadata={
                **table_metadata(batch.frame, spec, partitions=partition_count(context)),
                "source_uri": dg.MetadataValue.text(spec.source.uri),
                "source_fingerprint": dg.MetadataValue.text(batch.fingerprint),
                **_window_metadata(batch),
                "pii_columns": dg.MetadataValue.text(
                    ", ".join(f"{c} ({a})" for c, a in spec.pii.actions().items()) or "none"
                ),
            },
        )
        needed = required_columns(spec)
        missing = [c for c in needed if c not in batch.frame.columns]
        yield dg.AssetCheckResult(
            check_name=REQUIRED_COLUMNS_PRESENT,
            passed=not missing,
            description=(
                missing_columns_message(spec, missing, batch.frame.columns)
                if missing
                else f"all {len(needed)} required columns present"
            ),
            metadata={"missing_columns": names_text(missing)},
        )
        if spec.event_time is not None:
            share = batch.rows_without_time / max(batch.source_rows, 1)
            limit = spec.quality.max_rejected_share
            column = ", ".join(spec.event_time.source_columns)
            fmt = f" format {spec.event_time.format!r}" if spec.event_time.format else ""
            yield dg.AssetCheckResult(
                check_name=EVENT_TIMES_PARSE,
                passed=share <= limit,
                description=(
                    f"{spec.source.uri}: column {column}: {batch.rows_without_time} of "
                    f"{batch.source_rows} source rows have no event time (missing, or not "
                    f"matching{fmt or ' the column type'}) ({share:.2%}, limit "
                    f"{limit:.1%}) (rule: time.format); they are rejected in the first partition's "
                    "rejected_rows"
                ),
                metadata={
                    "rows_without_time": dg.MetadataValue.int(batch.rows_without_time),
                    "share_without_time": ratio(share),
                },
            )

    return raw
