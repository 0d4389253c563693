"""The spec's column rules, applied to a raw batch.

Types are enforced by casting declared columns (a value that does not cast is a
`dtype` failure); everything else (nullability, ranges, allowed values,
uniqueness, a present target) is a Pandera schema built from the spec and run
lazily so that every failing row is found, not just the first. Each failing row
goes to the rejected table with every rule it broke, so nothing is dropped
silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, WINDOW, hour_expr
from mlops_assets.specs.expressions import compile_expression
from mlops_assets.specs.model import ColumnSpec, DatasetSpec

if TYPE_CHECKING:
    import pandera.polars as pa

ROW = "_row"
REJECTION_REASONS = "_rejection_reasons"
REJECTED_RULES = "_rejected_rules"
MAX_VALUE_CHARS = 80
TARGET_MISSING = "not_nullable"
LABEL_RULE = "target.label"

POLARS_TYPES: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}


@dataclass
class ValidationOutcome:
    """What validation kept, what it rejected and why."""

    valid: pl.DataFrame
    rejected: pl.DataFrame
    failures: pl.DataFrame
    missing_columns: list[str] = field(default_factory=list)
    target_nulls: int = 0
    label_only_rejections: int = 0
    row_failures: pl.DataFrame | None = None
    """One row per broken rule of a row: `_row` (the row's position in the batch), column, rule
    and value; what an online answer names for each rejected request row."""

    @property
    def rows_in(self) -> int:
        return self.valid.height + self.rejected.height

    @property
    def rejected_share(self) -> float:
        return self.rejected.height / self.rows_in if self.rows_in else 0.0

    @property
    def rule_breaking_rows(self) -> int:
        """Rejected rows that broke a rule other than having no label.

        A row whose only fault is a missing label is governed by
        `quality.max_target_null_share` alone, not by `quality.max_rejected_share`.
        """
        return self.rejected.height - self.label_only_rejections

    @property
    def rule_breaking_share(self) -> float:
        return self.rule_breaking_rows / self.rows_in if self.rows_in else 0.0

    def failures_for(self, rule_prefix: str) -> pl.DataFrame:
        return self.failures.filter(pl.col("rule").str.starts_with(rule_prefix))


def clipped(value: str | None, limit: int = MAX_VALUE_CHARS) -> str:
    """A value for a message: long text cut, with its full length said."""
    if value is None:
        return "null"
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def clipped_expr(expr: pl.Expr, limit: int = MAX_VALUE_CHARS) -> pl.Expr:
    """`clipped` for a column of text."""
    length = expr.str.len_chars()
    return (
        pl.when(length > limit)
        .then(pl.format("{}... ({} characters)", expr.str.slice(0, limit), length.cast(pl.String)))
        .otherwise(expr)
        .fill_null("null")
    )


def target_source_columns(spec: DatasetSpec) -> list[str]:
    """The raw columns the target is made from (never features)."""
    return spec.target.source_columns()


def required_columns(spec: DatasetSpec) -> list[str]:
    """Columns the spec relies on: declared, target, time, ids and join keys of the main table."""
    needed = list(spec.columns) + target_source_columns(spec) + list(spec.id_columns)
    if spec.time:
        needed += spec.time.source_columns
    for join in spec.joins:
        needed += join.keys
    return list(dict.fromkeys(c for c in needed if spec.pii.actions().get(c) != "drop"))


def target_expr(spec: DatasetSpec, schema: pl.Schema) -> pl.Expr:
    """The target column, derived and typed for the task."""
    target = spec.target
    expr = (
        compile_expression(target.expression).expr if target.expression else pl.col(target.column)
    )
    if target.task == "regression":
        return expr.cast(pl.Float64, strict=False)
    if target.task == "binary":
        if target.positive_label is not None:
            return (expr.cast(pl.String) == target.positive_label).cast(pl.Int8)
        return expr.cast(pl.Int8, strict=False)
    return expr.cast(pl.String)


def _column_schema(name: str, rules: ColumnSpec, dtype: pl.DataType) -> pa.Column:
    import pandera.polars as pa

    checks = []
    if rules.min is not None and rules.max is not None:
        checks.append(pa.Check.in_range(rules.min, rules.max))
    elif rules.min is not None:
        checks.append(pa.Check.ge(rules.min))
    elif rules.max is not None:
        checks.append(pa.Check.le(rules.max))
    if rules.allowed is not None:
        checks.append(pa.Check.isin(rules.allowed))
    return pa.Column(
        dtype, checks=checks, nullable=rules.nullable, unique=rules.unique, required=True
    )


def pandera_schema(
    spec: DatasetSpec, frame_schema: pl.Schema, labelled: bool = True
) -> pa.DataFrameSchema:
    """The Pandera schema of the validated table, built from the spec.

    `labelled=False` is for rows scored before their outcome is known (online requests):
    the target may then be missing, and is checked only where it is there.
    """
    import pandera.polars as pa

    columns = {
        name: _column_schema(name, rules, frame_schema[name])
        for name, rules in spec.columns.items()
        if name in frame_schema
    }
    target_checks = [pa.Check.isin([0, 1])] if spec.target.task == "binary" else []
    columns[spec.target.column] = pa.Column(
        frame_schema[spec.target.column], checks=target_checks, nullable=not labelled
    )
    for id_column in spec.id_columns:
        if id_column in frame_schema:
            checks = columns[id_column].checks if id_column in columns else []
            columns[id_column] = pa.Column(
                frame_schema[id_column], checks=checks, nullable=False, unique=True
            )
    return pa.DataFrameSchema(columns, strict=False, name=f"{spec.name}_validated")


def _type_failures(raw: pl.DataFrame, cast: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    frames = []
    for name, rules in spec.columns.items():
        if rules.dtype is None or name not in raw.columns:
            continue
        broken = raw[name].is_not_null() & cast[name].is_null()
        if broken.any():
            frames.append(
                pl.DataFrame(
                    {
                        ROW: raw[ROW].filter(broken),
                        "column": name,
                        "rule": f"dtype({rules.dtype})",
                        "failure_case": raw[name].filter(broken).cast(pl.String),
                    }
                )
            )
    return pl.concat(frames) if frames else _empty_failures()


def _label_failures(raw: pl.DataFrame, cast: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    """Labels present in the source that are not labels of the task (text in a numeric target)."""
    target = spec.target
    if target.expression or target.column not in raw.columns:
        return _empty_failures()
    broken = raw[target.column].is_not_null() & cast[target.column].is_null()
    if not broken.any():
        return _empty_failures()
    return pl.DataFrame(
        {
            ROW: raw[ROW].filter(broken),
            "column": target.column,
            "rule": LABEL_RULE,
            "failure_case": raw[target.column].filter(broken).cast(pl.String),
        }
    )


def _time_failures(raw: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    """Rows without a usable event time, each with the time column, the rule and the value."""
    time = spec.event_time
    if time is None or EVENT_TIME not in raw.columns:
        return _empty_failures()
    timeless = raw.filter(pl.col(EVENT_TIME).is_null())
    if timeless.height == 0:
        return _empty_failures()
    text = {c: pl.col(c).cast(pl.String) for c in time.source_columns}
    if time.parts is not None:
        parts = time.source_columns
        null_part = pl.coalesce(
            [pl.when(text[c].is_null()).then(pl.lit(c)) for c in parts] + [pl.lit(None)]
        )
        label = "/".join(parts)
        value = pl.concat_str([text[c].fill_null("null") for c in parts], separator="-")
        problem = (
            pl.when(null_part.is_not_null())
            .then(pl.struct(column=null_part, rule=pl.lit("time.not_null"), value=pl.lit(None)))
            .otherwise(pl.struct(column=pl.lit(label), rule=pl.lit("time.parts"), value=value))
        )
    else:
        assert time.column is not None
        problem = pl.when(text[time.column].is_null()).then(
            pl.struct(column=pl.lit(time.column), rule=pl.lit("time.not_null"), value=pl.lit(None))
        )
        if time.hour_column:
            hour = text[time.hour_column]
            problem = problem.when(hour.is_null()).then(
                pl.struct(
                    column=pl.lit(time.hour_column),
                    rule=pl.lit("time.not_null"),
                    value=pl.lit(None),
                )
            )
            problem = problem.when(hour_expr(time.hour_column).is_null()).then(
                pl.struct(column=pl.lit(time.hour_column), rule=pl.lit("time.hour"), value=hour)
            )
        problem = problem.otherwise(
            pl.struct(
                column=pl.lit(time.column), rule=pl.lit("time.format"), value=text[time.column]
            )
        )
    return timeless.select(pl.col(ROW).cast(pl.UInt32), problem.alias("problem")).select(
        ROW,
        pl.col("problem").struct.field("column").cast(pl.String).alias("column"),
        pl.col("problem").struct.field("rule").cast(pl.String).alias("rule"),
        pl.col("problem").struct.field("value").cast(pl.String).alias("failure_case"),
    )


def _empty_failures() -> pl.DataFrame:
    return pl.DataFrame(
        schema={ROW: pl.UInt32, "column": pl.String, "rule": pl.String, "failure_case": pl.String}
    )


def declared_casts(spec: DatasetSpec, schema: pl.Schema) -> list[pl.Expr]:
    """Per declared column of a raw table with `schema`, the expression that casts it to its
    declared type (text trimmed, thousands separators and decimal commas read; a value that
    does not cast becomes null)."""
    casts = []
    for name, rules in spec.columns.items():
        if rules.dtype is None or name not in schema:
            continue
        target = POLARS_TYPES[rules.dtype]
        column = pl.col(name)
        if schema[name] == pl.String:
            column = column.str.strip_chars()
            if rules.dtype in {"int", "float"}:
                if spec.source.csv.decimal_comma:
                    column = column.str.replace_all(".", "", literal=True).str.replace(
                        ",", ".", literal=True
                    )
                else:
                    column = column.str.replace_all(",", "", literal=True)
            if rules.dtype == "int":
                column = column.cast(pl.Float64, strict=False)
                column = pl.when(column == column.round(0)).then(column).otherwise(None)
            if rules.dtype == "bool":
                lowered = column.str.to_lowercase()
                column = (
                    pl.when(lowered.is_in(["true", "1", "yes", "y", "t"]))
                    .then(True)
                    .when(lowered.is_in(["false", "0", "no", "n", "f"]))
                    .then(False)
                    .otherwise(None)
                )
            if rules.dtype in {"date", "datetime"}:
                column = column.str.to_datetime(strict=False, time_unit="us")
        column = column.cast(target, strict=False)
        if rules.dtype == "float":
            column = column.fill_nan(None)
        casts.append(column.alias(name))
    return casts


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        [
            pl.col(c).cast(pl.String)
            for c, t in frame.schema.items()
            if c not in (PARTITION, WINDOW) and t != pl.String
        ]
    )


def validate_batch(
    spec: DatasetSpec, raw: pl.DataFrame, labelled: bool = True
) -> ValidationOutcome:
    """Split a raw batch into rows that keep every rule and rows that break one.

    `labelled=False` validates rows whose label is not known yet (see `pandera_schema`).
    """
    import pandera.polars as pa

    raw = raw.with_row_index(ROW)
    missing = [c for c in required_columns(spec) if c not in raw.columns]
    if missing:
        failures = pl.DataFrame(
            {"column": missing, "rule": "column_present", "rows": raw.height, "failure_case": None},
            schema_overrides={"rows": pl.Int64, "failure_case": pl.String},
        )
        reasons = "; ".join(f"{c}: column_present" for c in missing)
        rejected = (
            _as_text(raw)
            .with_columns(
                pl.lit(reasons).alias(REJECTION_REASONS),
                pl.lit(["column_present"], dtype=pl.List(pl.String)).alias(REJECTED_RULES),
            )
            .drop(ROW)
        )
        return ValidationOutcome(raw.head(0).drop(ROW), rejected, failures, missing)

    cast = typed_rows(spec, raw)
    failure_rows = [
        _type_failures(raw, cast, spec),
        _label_failures(raw, cast, spec),
        _time_failures(raw, spec),
    ]
    schema = pandera_schema(spec, cast.schema, labelled)
    try:
        schema.validate(cast, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.filter(pl.col("index").is_not_null())
        failure_rows.append(
            cases.select(
                pl.col("index").cast(pl.UInt32).alias(ROW),
                pl.col("column").cast(pl.String),
                pl.col("check").cast(pl.String).alias("rule"),
                pl.col("failure_case").cast(pl.String),
            )
        )
    per_row = pl.concat(failure_rows).unique(subset=[ROW, "column", "rule"])
    target = spec.target.column
    missing_label = (pl.col("column") == target) & (pl.col("rule") == TARGET_MISSING)
    # A label that is there but unreadable is a `target.label` failure, not a missing label.
    bad_label_rows = per_row.filter(pl.col("rule") == LABEL_RULE)[ROW].implode()
    per_row = per_row.filter(~(missing_label & pl.col(ROW).is_in(bad_label_rows)))
    target_nulls = int(per_row.filter(missing_label)[ROW].n_unique())
    failures = (
        per_row.group_by("column", "rule")
        .agg(
            pl.len().cast(pl.Int64).alias("rows"),
            clipped_expr(pl.col("failure_case").drop_nulls().sort().first()),
        )
        .sort("rows", "column", descending=[True, False])
    )
    reasons = (
        per_row.sort(ROW, "column", "rule")
        .group_by(ROW)
        .agg(
            pl.format("{}: {} (value {})", "column", "rule", clipped_expr(pl.col("failure_case")))
            .str.join("; ")
            .alias(REJECTION_REASONS),
            pl.col("rule").unique(maintain_order=True).alias(REJECTED_RULES),
            ((pl.col("column") == target) & (pl.col("rule") == TARGET_MISSING))
            .all()
            .alias("_label_only"),
        )
    )
    label_only = int(reasons["_label_only"].sum())
    reasons = reasons.drop("_label_only")
    bad_rows = reasons[ROW]
    rejected = (
        _as_text(raw.filter(pl.col(ROW).is_in(bad_rows.implode())))
        .with_columns(pl.col(ROW).cast(pl.UInt32))
        .join(reasons, on=ROW, how="left")
        .sort(ROW)
        .drop(ROW)
    )
    valid = cast.filter(~pl.col(ROW).is_in(bad_rows.implode())).drop(ROW)
    return ValidationOutcome(
        valid,
        rejected,
        failures,
        [],
        target_nulls,
        label_only,
        per_row.sort(ROW, "column", "rule"),
    )


def typing_expressions(spec: DatasetSpec, schema: pl.Schema) -> tuple[list[pl.Expr], pl.Expr]:
    """What `typed_rows` runs on a raw table with `schema`: the declared casts, then the
    derived target. A caller typing many small frames of one schema builds them once."""
    casts = declared_casts(spec, schema)
    cast_schema = pl.DataFrame(schema=schema).with_columns(casts).schema
    return casts, target_expr(spec, cast_schema).alias(spec.target.column)


def typed_rows(
    spec: DatasetSpec,
    raw: pl.DataFrame,
    expressions: tuple[list[pl.Expr], pl.Expr] | None = None,
) -> pl.DataFrame:
    """Declared columns cast to their types, plus the derived target: what `validate_batch`
    keeps of rows that break no rule. `expressions`, when given, are
    `typing_expressions(spec, raw.schema)`."""
    casts, target = expressions or typing_expressions(spec, raw.schema)
    return raw.with_columns(casts).with_columns(target)


__all__ = [
    "EVENT_TIME",
    "PARTITION",
    "REJECTION_REASONS",
    "ValidationOutcome",
    "pandera_schema",
    "required_columns",
    "target_source_columns",
    "typed_rows",
    "typing_expressions",
    "validate_batch",
]
