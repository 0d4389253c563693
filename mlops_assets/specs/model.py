"""The dataset spec: the one file a team writes to put a table on the platform.

A spec names where the data lives, what to predict, how time is measured, which
columns may be used and under what rules, and how the model is trained and
judged. Every field is validated here, so a mistake is reported with the spec
file and the field before any Dagster code runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_assets.specs.expressions import ExpressionError, compile_expression

Task = Literal["binary", "multiclass", "regression"]
Grain = Literal["daily", "weekly", "monthly"]
DType = Literal["int", "float", "string", "bool", "date", "datetime"]
TimePart = Literal["hour", "day_of_week", "day_of_month", "month", "day_of_year"]
CARD_ONLY_FIELDS = ("intended_use", "limitations")


def normalized_name(name: str) -> str:
    """A column name as matched for personal data: case and surrounding whitespace ignored."""
    return name.strip().casefold()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    """How to parse a delimited text source."""

    separator: str = Field(",", min_length=1, max_length=1)
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "NULL", "null", "NaN"])
    has_header: bool = True
    column_names: list[str] | None = None
    quote_char: str | None = '"'
    encoding: Literal["utf8", "utf8-lossy", "latin1", "cp1252"] = Field(
        "utf8",
        description="Text encoding; `latin1`/`cp1252` are decoded to UTF-8 before parsing, "
        "`utf8-lossy` replaces invalid bytes.",
    )
    decimal_comma: bool = False
    skip_rows: int = Field(0, ge=0, description="Lines skipped before the header (or first row).")
    infer_schema_length: int | None = Field(
        None,
        ge=0,
        description="Rows read to infer undeclared column types; null (the default) reads every "
        "row, and a limited read that fails is retried over every row.",
    )


class SourceSpec(_Strict):
    """Where a table lives: a path, glob, `package://` resource or object-store URI."""

    uri: str
    format: Literal["csv", "parquet", "delta"] | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    storage_options: dict[str, str] = Field(default_factory=dict)

    @property
    def resolved_format(self) -> Literal["csv", "parquet", "delta"]:
        if self.format:
            return self.format
        lowered = self.uri.lower().rstrip("/")
        if lowered.endswith((".parquet", ".pq")):
            return "parquet"
        if lowered.endswith((".csv", ".tsv", ".txt", ".csv.zip", ".csv.gz", ".zip", ".gz")):
            return "csv"
        return "delta"


class TargetSpec(_Strict):
    """What the model predicts: a column, or a SQL expression over raw columns."""

    column: str = Field(description="Name of the target column (derived when `expression` is set).")
    task: Task
    expression: str | None = Field(
        None,
        description="Expression in the platform's safe language deriving the target, "
        "e.g. `arr_delay > 15` (see mlops_assets/specs/expressions.py).",
    )
    positive_label: str | None = Field(
        None, description="For binary targets stored as text: the value that counts as 1."
    )

    @field_validator("expression")
    @classmethod
    def _expression_is_safe(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_expression(value)
            except ExpressionError as error:
                raise ValueError(f"refused: {error}") from error
        return value

    def source_columns(self) -> list[str]:
        """The raw columns the target is made from."""
        if self.expression:
            return compile_expression(self.expression).columns
        return [self.column]


class TimeParts(_Strict):
    """A timestamp assembled from separate date-part columns."""

    year: str
    month: str
    day: str
    hour: str | None = None
    minute: str | None = None


NESTED_GRAINS: dict[str, tuple[str, ...]] = {
    "daily": ("daily", "weekly", "monthly"),
    "weekly": ("weekly",),
    "monthly": ("monthly",),
}
"""Partition grains that hold whole windows of each monitoring grain."""


class TimeSpec(_Strict):
    """The event time of a row, which drives partitions and the time split.

    `order: rows` instead says the table has no timestamp but its rows are in time
    order: nothing is partitioned, and the split is positional (the last rows test).
    """

    column: str | None = None
    format: str | None = Field(None, description="strftime format when the column is text.")
    parts: TimeParts | None = None
    grain: Grain = Field(
        "daily",
        description="The monitoring window: drift, the realized metric and the retraining "
        "policy are measured and decided per window, and the time split counts windows.",
    )
    partitions: Grain | None = Field(
        None,
        description="Dagster partitions (what a run materializes and the UI shows): default "
        "monthly for daily windows, else the window. Coarse partitions keep Dagster's "
        "bookkeeping from growing with the number of days; the daily detail lives in the tables.",
    )
    start: dt.date | None = Field(
        None, description="First day of data; required with an event time."
    )
    end: dt.date | None = Field(
        None, description="Exclusive end of the data (the last partition ends here or just after)."
    )
    max_partitions_per_run: int | None = Field(
        None,
        ge=1,
        description="Backfills split into runs of at most this many partitions, which run in "
        "parallel; unset, a backfill is one run over the whole range.",
    )
    hour_column: str | None = Field(
        None,
        description="Column holding the hour of the day (0-23), added to the date in `column`.",
    )
    order: Literal["event_time", "rows"] = Field(
        "event_time",
        description="`rows`: no timestamp, but the rows are in time order (positional split).",
    )

    @model_validator(mode="after")
    def _one_way_to_tell_time(self) -> TimeSpec:
        if self.order == "rows":
            given = [
                name
                for name in ("column", "parts", "hour_column", "format", "start", "end")
                if getattr(self, name) is not None
            ]
            if given or self.max_partitions_per_run is not None:
                raise ValueError(
                    "time.order: rows means the table has no time column; remove "
                    + ", ".join(f"time.{n}" for n in given or ["max_partitions_per_run"])
                )
            return self
        if (self.column is None) == (self.parts is None):
            raise ValueError("time needs exactly one of `column` or `parts` (or `order: rows`)")
        if self.start is None:
            raise ValueError("time.start is required with a time column")
        if self.hour_column is not None and self.column is None:
            raise ValueError("time.hour_column adds an hour to `time.column`; set that column")
        if self.end is not None and self.end <= self.start:
            raise ValueError("time.end must be after time.start")
        if self.partitions is not None and self.partition_grain not in NESTED_GRAINS[self.grain]:
            raise ValueError(
                f"time.partitions {self.partitions} cannot hold whole {self.grain} windows; "
                f"choose one of {', '.join(NESTED_GRAINS[self.grain])}"
            )
        return self

    @property
    def partition_grain(self) -> Grain:
        """The grain of the Dagster partitions (see `partitions`)."""
        if self.partitions is not None:
            return self.partitions
        return "monthly" if self.grain == "daily" else self.grain

    @property
    def source_columns(self) -> list[str]:
        if self.column:
            return [self.column] + ([self.hour_column] if self.hour_column else [])
        if self.parts is None:
            return []
        return [c for c in self.parts.model_dump().values() if c]


class ColumnSpec(_Strict):
    """Rules for one column; every rule becomes a Pandera check."""

    dtype: DType | None = None
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = Field(None, description="Allowed values; others are rejected.")
    unique: bool = False
    categorical: bool | None = None
    description: str | None = None


class JoinSpec(_Strict):
    """A lookup table joined onto every row during feature building."""

    name: str
    source: SourceSpec
    keys: list[str] = Field(min_length=1, description="Columns present in both tables.")
    columns: list[str] | None = None
    prefix: str = ""
    categorical_columns: list[str] = Field(default_factory=list)


PiiAction = Literal["drop", "hash"]


class PiiSpec(_Strict):
    """Personal data: dropped, or replaced by an HMAC keyed from `MLOPS_PII_KEY`."""

    columns: list[str] | dict[str, PiiAction] = Field(
        default_factory=list,
        description="Column names (each gets `action`), or a mapping from column to its own action.",
    )
    action: PiiAction = "drop"

    def actions(self) -> dict[str, PiiAction]:
        """What happens to each personal-data column before anything is stored."""
        if isinstance(self.columns, dict):
            return dict(self.columns)
        return dict.fromkeys(self.columns, self.action)

    def normalized_actions(self) -> dict[str, PiiAction]:
        """The same, keyed by normalized name (case and surrounding whitespace ignored)."""
        return {normalized_name(c): a for c, a in self.actions().items()}

    def covers(self, column: str) -> bool:
        """Whether `column` is personal data, however its case or surrounding spaces differ."""
        return normalized_name(column) in self.normalized_actions()


class FeatureSpec(_Strict):
    """How features are derived from the validated table."""

    time_parts: list[TimePart] | None = Field(
        None,
        description="Time parts added as features; unset, each of hour, day_of_week and month "
        "is used only when the training window covers its cycle at least twice.",
    )
    max_categories: int = Field(
        500, description="Text columns with more distinct values are left out as identifiers."
    )


class SplitSpec(_Strict):
    """Train, validation and test windows: by time when there is time, else seeded random."""

    valid_start: dt.date | None = None
    test_start: dt.date | None = None
    valid_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)
    seed: int = 42
    key: list[str] | None = Field(
        None,
        min_length=1,
        description="Columns that identify a row for the random split (default: id_columns, "
        "else the row's content). Identifiers keep each row in its split when columns are added.",
    )


class TrainingSpec(_Strict):
    """LightGBM settings. The seed and thread count make training repeatable."""

    params: dict[str, Any] = Field(default_factory=dict)
    num_boost_round: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    seed: int = 42
    num_threads: int = Field(2, ge=1)


class QualitySpec(_Strict):
    """Thresholds that checks and gates hold the data and the model to."""

    max_rejected_share: float = Field(0.01, ge=0, le=1)
    max_target_null_share: float = Field(0.0, ge=0, le=1)
    min_rows: int = Field(1, ge=0)
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    slice_column: str | None = None
    min_test_metric: float | None = Field(
        None, description="Floor on the primary test metric (ROC AUC, macro F1 or R2)."
    )


class DriftSpec(_Strict):
    """How new data is compared with the champion's training data (see mlops_assets/drift)."""

    numeric_method: Literal["auto", "ks", "wasserstein", "psi", "jensen_shannon"] = "auto"
    categorical_method: Literal["auto", "chi_square", "jensen_shannon", "psi"] = "auto"
    small_sample_rows: int = Field(1000, ge=1)
    ks_p_value: float = Field(0.05, gt=0, lt=1)
    chi_square_p_value: float = Field(0.05, gt=0, lt=1)
    wasserstein_threshold: float = Field(0.1, gt=0)
    jensen_shannon_threshold: float = Field(0.1, gt=0, le=1)
    psi_threshold: float = Field(0.2, gt=0)
    dataset_drift_share: float = Field(0.5, gt=0, le=1)
    max_sample_rows: int | None = Field(200_000, ge=1000)
    prediction_threshold: float = Field(
        0.1, gt=0, description="Drift score of the predictions that counts as drift."
    )
    max_metric_drop: float = Field(
        0.05,
        ge=0,
        description="Realized primary metric may fall this far below the champion's test metric.",
    )


class RetrainingSpec(_Strict):
    """When retraining happens: on a schedule, and on a debounced drift signal."""

    schedule: str = Field(
        "0 3 * * 1", description="Cron of scheduled retraining (default Mondays 03:00)."
    )
    drifted_partitions_in_a_row: int = Field(
        3,
        ge=1,
        description="Drift signal after this many windows in a row in which at least "
        "drift.dataset_drift_share of the features drift beyond their usual severity...",
    )
    hard_drift_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description="...or at once when one window's share of unusually drifting features reaches this.",
    )
    degraded_windows_in_a_row: int = Field(
        3,
        ge=1,
        description="...or after this many labelled windows in a row whose realized metric is more "
        "than max(drift.max_metric_drop, its usual spread) below the champion's mean per-window "
        "test metric (concept drift).",
    )
    min_labelled_rows: int = Field(
        30, ge=1, description="A window's realized metric is measured once it has this many labels."
    )
    cooldown_hours: float | None = Field(
        None,
        ge=0,
        description="Event time after a retrain signal during which no new one is raised; default "
        "three windows of time.grain (72 h daily, 3 weeks weekly, 90 days monthly; 72 h without time).",
    )


class PromotionSpec(_Strict):
    """The gate a retrained model (challenger) passes before it serves (champion)."""

    max_metric_drop: float = Field(
        0.0,
        ge=0,
        description="Challenger's primary test metric may be this much below the champion's.",
    )


class DatasetSpec(_Strict):
    """One dataset on the platform, and so one Dagster asset group."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    description: str = ""
    owner: str = Field("team:ml", description="Dagster owner: an e-mail or `team:NAME`.")
    intended_use: str = Field(
        "",
        description="What the model's scores are for, and for whom; printed on every model card.",
    )
    limitations: list[str] = Field(
        default_factory=list,
        description="Known limits a reader of the model card must know, one sentence each.",
    )
    source: SourceSpec
    target: TargetSpec
    time: TimeSpec | None = None
    id_columns: list[str] = Field(default_factory=list)
    pii: PiiSpec = Field(default_factory=PiiSpec)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    categorical_columns: list[str] = Field(default_factory=list)
    exclude_columns: list[str] = Field(
        default_factory=list,
        description="Columns that leak the target or are unknown at prediction time.",
    )
    joins: list[JoinSpec] = Field(default_factory=list)
    features: FeatureSpec = Field(default_factory=FeatureSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)
    retraining: RetrainingSpec = Field(default_factory=RetrainingSpec)
    promotion: PromotionSpec = Field(default_factory=PromotionSpec)

    @field_validator("owner")
    @classmethod
    def _owner_is_dagster_owner(cls, value: str) -> str:
        if not (value.startswith("team:") or "@" in value):
            raise ValueError("owner must be an e-mail address or `team:NAME`")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.target.column in self.exclude_columns:
            raise ValueError(f"target `{self.target.column}` is also in exclude_columns")
        if self.target.column in self.id_columns:
            raise ValueError(f"target `{self.target.column}` is also an id column")
        valid_start, test_start = self.split.valid_start, self.split.test_start
        if valid_start and test_start and not valid_start < test_start:
            raise ValueError("split.valid_start must come before split.test_start")
        if self.event_time is None and (self.split.valid_start or self.split.test_start):
            raise ValueError(
                "split dates need a `time` section with a time column; without one the split "
                "is random (or positional with `time.order: rows`)"
            )
        problems = self._personal_data_misuse()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _personal_data_misuse(self) -> list[str]:
        """Ways the spec would send personal data into the model, a metric or a join."""
        pii = self.pii.normalized_actions()
        if not pii:
            return []
        problems: list[str] = []

        def misuse(column: str, role: str) -> None:
            action = pii.get(normalized_name(column))
            if action:
                problems.append(
                    f"PII column `{column}` (pii.action {action}) cannot be {role} "
                    "(rule: pii.not_used)"
                )

        target_role = "a source of target.expression" if self.target.expression else "the target"
        for column in self.target.source_columns():
            misuse(column, target_role)
        if self.time is not None:
            for column in self.time.source_columns:
                misuse(column, "a time column")
        for join in self.joins:
            for key in join.keys:
                misuse(key, f"a key of join `{join.name}`")
        for column in self.id_columns:
            if pii.get(normalized_name(column)) == "drop":
                problems.append(
                    f"PII column `{column}` is dropped, so it cannot be an id column "
                    "(use pii.action hash for a pseudonymous id) (rule: pii.not_used)"
                )
        for column in self.categorical_columns:
            misuse(column, "a feature (categorical_columns)")
        for column, rules in self.columns.items():
            used = [
                name
                for name, value in (
                    ("categorical", rules.categorical),
                    ("min", rules.min),
                    ("max", rules.max),
                    ("allowed", rules.allowed),
                )
                if value
            ]
            if rules.dtype not in (None, "string"):
                used.append(f"dtype {rules.dtype}")
            if used:
                misuse(column, f"declared with {', '.join(used)} in `columns:` (a feature rule)")
        if self.quality.slice_column:
            misuse(self.quality.slice_column, "quality.slice_column (its values go into reports)")
        return list(dict.fromkeys(problems))

    @property
    def event_time(self) -> TimeSpec | None:
        """The time section when rows have an event time (partitions), else None."""
        if self.time is None or self.time.order == "rows":
            return None
        return self.time

    @property
    def rows_in_time_order(self) -> bool:
        """A table without timestamps whose row order is time (`time.order: rows`)."""
        return self.time is not None and self.time.order == "rows"

    @property
    def is_partitioned(self) -> bool:
        return self.event_time is not None

    @property
    def model_name(self) -> str:
        """Name of the registered MLflow model."""
        return f"{self.name}_model"

    def fingerprint(self) -> str:
        """A short, stable hash of the spec: the config part of every version id.

        Fields that only document the model (`CARD_ONLY_FIELDS`) are left out, so
        rewording them does not mark every asset stale.
        """
        behaviour = self.model_dump(mode="json", exclude=set(CARD_ONLY_FIELDS))
        canonical = json.dumps(behaviour, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
