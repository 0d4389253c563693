"""The validated and rejected-rows assets, with the checks that guard them.

Both come from one pass over the raw window: rows that keep every rule of the
spec's Pandera schema are validated; the others are kept in rejected_rows with
each broken rule named. The checks are computed in the same pass and the ones
that must hold are blocking, so a bad window stops before features and models.
"""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import (
    markdown_sample,
    names_text,
    partition_count,
    ratio,
    records_table,
    table_metadata,
)
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.validation.row_order import HINT, row_order_findings
from mlops_assets.validation.rules import (
    REJECTION_REASONS,
    ValidationOutcome,
    clipped,
    validate_batch,
)
from mlops_assets.versioning import content_hash

TARGET_NULLS_WITHIN_LIMIT = "target_nulls_within_limit"
REJECTED_SHARE_WITHIN_LIMIT = "rejected_share_within_limit"
VALUES_WITHIN_ALLOWED_CATEGORIES = "values_within_allowed_categories"
TARGET_IS_NOT_CONSTANT = "target_is_not_constant"
ROWS_SHOW_NO_TIME_ORDER = "rows_show_no_time_order"


FAILURE_COLUMNS = {
    "column": "Column of the source the rule is about",
    "rule": "The broken rule (as in the spec: not_nullable, isin, in_range, dtype, ...)",
    "failure_case": "An offending value (empty when the value is missing)",
    "rows": "Rows that break the rule this way",
}


def failures_table(failures: pl.DataFrame) -> dg.TableMetadataValue:
    """Every broken rule with how many rows broke it, most rows first."""
    columns = [c for c in FAILURE_COLUMNS if c in failures.columns]
    return records_table(failures.select(columns), FAILURE_COLUMNS)


def _check_specs(names: SpecAssets) -> list[dg.AssetCheckSpec]:
    asset = names.validated
    return [
        dg.AssetCheckSpec(
            TARGET_NULLS_WITHIN_LIMIT,
            asset=asset,
            blocking=True,
            description="Share of rows without a target is within quality.max_target_null_share.",
        ),
        dg.AssetCheckSpec(
            REJECTED_SHARE_WITHIN_LIMIT,
            asset=asset,
            blocking=True,
            description="Share of rows breaking a schema rule is within quality.max_rejected_share.",
        ),
        dg.AssetCheckSpec(
            VALUES_WITHIN_ALLOWED_CATEGORIES,
            asset=asset,
            blocking=False,
            description="No value outside a column's allowed list (new categories are warned about).",
        ),
        dg.AssetCheckSpec(
            TARGET_IS_NOT_CONSTANT,
            asset=asset,
            blocking=True,
            description="The valid rows hold at least two classes (or two target values): a model "
            "of a constant learns nothing. A single partition only warns.",
        ),
    ] + (
        [
            dg.AssetCheckSpec(
                ROWS_SHOW_NO_TIME_ORDER,
                asset=asset,
                blocking=False,
                description="A table without a time section does not look ordered in time (no "
                "column that only grows, no target rate moving along the rows).",
            )
        ]
        if names.spec.time is None
        else []
    )


def _failure_metadata(outcome: ValidationOutcome, rule_prefix: str | None = None) -> dict:
    failures = outcome.failures if rule_prefix is None else outcome.failures_for(rule_prefix)
    rejected = outcome.rejected
    metadata: dict = {
        "failing_rows": dg.MetadataValue.int(int(failures["rows"].sum()) if failures.height else 0)
    }
    if failures.height:
        metadata["failures_by_rule"] = failures_table(failures)
        if rejected.height:
            sample = rejected
            if rule_prefix is not None:
                sample = rejected.filter(
                    pl.col(REJECTION_REASONS).str.contains(rule_prefix, literal=True)
                )
            metadata["failing_rows_sample"] = markdown_sample(
                sample.select(
                    [REJECTION_REASONS] + [c for c in sample.columns if c != REJECTION_REASONS]
                )
            )
    return metadata


def _target_classes_check(
    names: SpecAssets, outcome: ValidationOutcome, partitions: int
) -> dg.AssetCheckResult:
    spec = names.spec
    target = spec.target.column
    values = outcome.valid[target] if target in outcome.valid.columns else None
    distinct = 0 if values is None else values.drop_nulls().n_unique()
    what = "target values" if spec.target.task == "regression" else "classes"
    shown = (
        ""
        if values is None
        else ", ".join(
            clipped(str(v), 20) for v in values.drop_nulls().unique().sort().head(5).to_list()
        )
    )
    whole = not spec.is_partitioned or partitions > 1
    return dg.AssetCheckResult(
        asset_key=names.validated,
        check_name=TARGET_IS_NOT_CONSTANT,
        passed=distinct >= 2,
        severity=dg.AssetCheckSeverity.ERROR if whole else dg.AssetCheckSeverity.WARN,
        description=(
            f"{spec.source.uri}: column {target}: {distinct} distinct {what} in "
            f"{outcome.valid.height} valid rows ({shown or 'none'})"
            + ("" if distinct >= 2 else " (rule: target.two_classes): no model can be trained")
        ),
        metadata={"distinct_target_values": dg.MetadataValue.int(distinct)},
    )


def _row_order_check(names: SpecAssets, outcome: ValidationOutcome) -> dg.AssetCheckResult:
    findings = row_order_findings(names.spec, outcome.valid)
    return dg.AssetCheckResult(
        asset_key=names.validated,
        check_name=ROWS_SHOW_NO_TIME_ORDER,
        passed=not findings,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{names.spec.source.uri}: the rows look ordered in time: {'; '.join(findings)}; {HINT}"
            if findings
            else "no sign of time order along the rows"
        ),
        metadata={"findings": names_text(findings)},
    )


def check_results(
    names: SpecAssets, outcome: ValidationOutcome, partitions: int = 1
) -> list[dg.AssetCheckResult]:
    """The data checks of one validated window."""
    spec, asset = names.spec, names.validated
    quality = spec.quality
    rows = max(outcome.rows_in, 1)
    target_null_share = outcome.target_nulls / rows
    uri = spec.source.uri
    missing = outcome.missing_columns
    return [
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=TARGET_NULLS_WITHIN_LIMIT,
            passed=not missing and target_null_share <= quality.max_target_null_share,
            description=(
                f"{uri}: column {spec.target.column}: {outcome.target_nulls} of {outcome.rows_in} rows "
                f"have no target (rule: not_nullable, limit {quality.max_target_null_share:.1%})"
            ),
            metadata={
                "target_null_rows": dg.MetadataValue.int(outcome.target_nulls),
                "target_null_share": ratio(target_null_share),
                **_failure_metadata(outcome, "not_nullable"),
            },
        ),
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=REJECTED_SHARE_WITHIN_LIMIT,
            passed=outcome.rule_breaking_share <= quality.max_rejected_share,
            description=(
                f"{uri}: {outcome.rule_breaking_rows} of {outcome.rows_in} rows break a rule "
                f"({outcome.rule_breaking_share:.2%}, limit {quality.max_rejected_share:.1%}"
                + (
                    f"; {outcome.label_only_rejections} more rejected only for a missing label"
                    if outcome.label_only_rejections
                    else ""
                )
                + ")"
                + (
                    "; worst: "
                    + ", ".join(
                        f"{c}: {clipped(r)} ({n} rows)"
                        for c, r, n in outcome.failures.head(3)
                        .select("column", "rule", "rows")
                        .iter_rows()
                    )
                    if outcome.failures.height
                    else ""
                )
            ),
            metadata={
                "rejected_rows": dg.MetadataValue.int(outcome.rejected.height),
                "rejected_share": ratio(outcome.rejected_share),
                "rule_breaking_share": ratio(outcome.rule_breaking_share),
                **_failure_metadata(outcome),
            },
        ),
        dg.AssetCheckResult(
            asset_key=asset,
            check_name=VALUES_WITHIN_ALLOWED_CATEGORIES,
            passed=outcome.failures_for("isin").height == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{uri}: values outside the allowed list: "
                + ", ".join(
                    f"{c} = {v!r} ({n} rows)"
                    for c, v, n in outcome.failures_for("isin")
                    .select("column", "failure_case", "rows")
                    .iter_rows()
                )
                if outcome.failures_for("isin").height
                else None
            ),
            metadata=_failure_metadata(outcome, "isin"),
        ),
        _target_classes_check(names, outcome, partitions),
    ] + ([_row_order_check(names, outcome)] if spec.time is None else [])


def build_validated_assets(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec

    @dg.multi_asset(
        name=f"{spec.name}__validate",
        group_name=names.group,
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        ins={"raw": dg.AssetIn(key=names.raw)},
        outs={
            "validated": dg.AssetOut(
                key=names.validated,
                io_manager_key=DELTA_IO_MANAGER,
                owners=names.owners,
                kinds={"pandera", "polars", "deltalake"},
                tags=names.tags,
                code_version=names.code_version("validated3"),
                description="Raw rows that keep every rule of the spec, typed as the spec declares.",
            ),
            "rejected_rows": dg.AssetOut(
                key=names.rejected_rows,
                io_manager_key=DELTA_IO_MANAGER,
                owners=names.owners,
                kinds={"pandera", "polars", "deltalake"},
                tags=names.tags,
                code_version=names.code_version("rejected3"),
                description="Raw rows that broke a rule, as text, with every broken rule and column named.",
            ),
        },
        check_specs=_check_specs(names),
    )
    def validate(context: dg.AssetExecutionContext, raw: pl.DataFrame):
        """Apply the spec's Pandera schema: keep good rows, keep bad rows with their reasons."""
        outcome = validate_batch(spec, raw)
        context.log.info(
            f"{spec.name}: {outcome.valid.height} rows valid, {outcome.rejected.height} rejected"
        )
        yield dg.Output(
            outcome.valid,
            output_name="validated",
            data_version=dg.DataVersion(content_hash(outcome.valid)),
            metadata={
                **table_metadata(outcome.valid, spec, partitions=partition_count(context)),
                "rejected_rows": dg.MetadataValue.int(outcome.rejected.height),
                "rejected_share": ratio(outcome.rejected_share),
                "rule_breaking_share": ratio(outcome.rule_breaking_share),
            },
        )
        yield dg.Output(
            outcome.rejected,
            output_name="rejected_rows",
            data_version=dg.DataVersion(content_hash(outcome.rejected)),
            metadata={
                **table_metadata(outcome.rejected, spec, partitions=partition_count(context)),
                "failures_by_rule": (
                    failures_table(outcome.failures)
                    if outcome.failures.height
                    else dg.MetadataValue.text("no failures")
                ),
            },
        )
        yield from check_results(names, outcome, partition_count(context))

    return validate
