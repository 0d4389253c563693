"""The columns an online request row carries, and how their values become a raw batch.

A request row is a row of the spec's source as the batch path reads it into the
`raw` table: every column takes the type it has there (declared columns of a CSV
source are text, so the spec's rules accept or reject a request's values exactly
as they do a file's). The types come from the spec's `raw` table, or from the
source itself before the first ingest.

Which columns a row must carry:
- the time columns are optional: a row without them happened at the request time;
- ids and lookup-join keys are required;
- the target's source columns, excluded columns and personal data are optional
  (a label sent with a row is validated and logged, never used to score it);
- every other column is a model input and required (its value may be null where
  the spec allows nulls).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import dagster as dg
import polars as pl

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, SOURCE_ROW, WINDOW, protect_pii
from mlops_assets.ingest.sources import scan_source
from mlops_assets.online.errors import RowError
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.validation.rules import target_source_columns
from resources.delta_store import DeltaStore

TIME, ID, JOIN_KEY, LABEL, EXCLUDED, PERSONAL, INPUT = (
    "time",
    "id",
    "join_key",
    "label",
    "excluded",
    "personal_data",
    "input",
)
OPTIONAL_ROLES = frozenset({TIME, LABEL, EXCLUDED, PERSONAL})
DECLARED_V2_TYPES = {
    "int": "INT64",
    "float": "FP64",
    "string": "BYTES",
    "bool": "BOOL",
    "date": "BYTES",
    "datetime": "BYTES",
}
_V2_TYPES = {
    pl.Int8: "INT8",
    pl.Int16: "INT16",
    pl.Int32: "INT32",
    pl.Int64: "INT64",
    pl.UInt8: "UINT8",
    pl.UInt16: "UINT16",
    pl.UInt32: "UINT32",
    pl.UInt64: "UINT64",
    pl.Float32: "FP32",
    pl.Float64: "FP64",
    pl.Boolean: "BOOL",
}
_TRUE, _FALSE = ["true", "1"], ["false", "0"]
_BROKEN = "_value_does_not_fit"
SCALAR_VALUE = "scalar_value"


@dataclass(frozen=True)
class RequestColumn:
    """One column of a request row: its type in the raw batch, whether it is required and why
    it is there, and the Open Inference Protocol datatype a client sends it as."""

    name: str
    dtype: pl.DataType
    role: str
    v2_datatype: str

    @property
    def required(self) -> bool:
        return self.role not in OPTIONAL_ROLES


def _role(spec: DatasetSpec, name: str) -> str:
    if spec.time is not None and name in spec.time.source_columns:
        return TIME
    if name in spec.id_columns:
        return ID
    if any(name in join.keys for join in spec.joins):
        return JOIN_KEY
    if name in spec.pii.actions():
        return PERSONAL
    if name in target_source_columns(spec):
        return LABEL
    if name in spec.exclude_columns:
        return EXCLUDED
    return INPUT


def _v2_datatype(spec: DatasetSpec, name: str, dtype: pl.DataType) -> str:
    declared = spec.columns.get(name)
    if declared is not None and declared.dtype is not None:
        return DECLARED_V2_TYPES[declared.dtype]
    return _V2_TYPES.get(dtype.base_type(), "BYTES")


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    return str(dtype)


def _text(value: object) -> str | None:
    """A JSON scalar as the text a file would hold."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(type(value).__name__)


def _typed(name: str, dtype: pl.DataType) -> pl.Expr:
    """A text column cast to the raw batch's type; a value that does not fit becomes null."""
    text = pl.col(name)
    if dtype == pl.String:
        return text
    stripped = text.str.strip_chars()
    if dtype.is_integer():
        number = stripped.cast(pl.Float64, strict=False)
        whole = pl.when(number == number.round(0)).then(number.cast(dtype, strict=False))
        return pl.coalesce(stripped.cast(dtype, strict=False), whole).alias(name)
    if dtype == pl.Boolean:
        lowered = stripped.str.to_lowercase()
        return (
            pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
        ).alias(name)
    if dtype == pl.Date:
        return stripped.str.to_datetime(strict=False, time_unit="us").dt.date().alias(name)
    if isinstance(dtype, pl.Datetime):
        parsed = stripped.str.to_datetime(strict=False, time_unit=dtype.time_unit or "us")
        return (parsed.dt.replace_time_zone(dtype.time_zone) if dtype.time_zone else parsed).alias(
            name
        )
    return stripped.cast(dtype, strict=False).alias(name)


@dataclass(frozen=True)
class RequestSchema:
    """The request columns of one spec, in the raw table's order."""

    spec: DatasetSpec
    columns: dict[str, RequestColumn]

    @functools.cached_property
    def _cast_columns(self) -> list[RequestColumn]:
        return [c for c in self.columns.values() if c.dtype != pl.String]

    @functools.cached_property
    def _built_casts(self) -> dict[tuple[str, ...], list[pl.Expr]]:
        return {}

    def _casts(self, columns: tuple[RequestColumn, ...]) -> list[pl.Expr]:
        """`columns` cast from text, and whether any value did not fit (built once per set)."""
        key = tuple(c.name for c in columns)
        if key not in self._built_casts:
            self._built_casts[key] = [
                *[_typed(c.name, c.dtype) for c in columns],
                pl.any_horizontal(*[_broken(c) for c in columns], False).alias(_BROKEN),
            ]
        return self._built_casts[key]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]

    def time_value(self, column: RequestColumn, at: dt.datetime) -> object:
        """The value of a time column for a row that happened at `at` (the request time)."""
        time = self.spec.time
        assert time is not None
        if time.parts is not None:
            parts = time.parts.model_dump()
            part = next(p for p, c in parts.items() if c == column.name)
            return getattr(at, part)
        if column.dtype == pl.String and time.format:
            return at.strftime(time.format)
        return at.isoformat(sep=" ")

    def filled(self, values: dict[str, list], height: int, at: dt.datetime) -> dict[str, list]:
        """One request's values for every column: None where a row has none, and the request
        time `at` where a row has no time."""
        filled = {}
        for column in self.columns.values():
            given = values.get(column.name) or [None] * height
            if column.role == TIME:
                now = self.time_value(column, at)
                given = [now if v is None else v for v in given]
            filled[column.name] = given
        return filled

    def raw_batch(self, values: dict[str, list]) -> tuple[pl.DataFrame, list[RowError]]:
        """The raw batch of the rows in `values` (every column, as `filled` gives them), and
        every value that does not fit its column's type (rows numbered from 0).

        A typed column whose values are all JSON values of its type (ints for an integer
        column) is built from them directly; any other goes through the text a file would
        hold, and is cast from it.
        """
        native: dict[str, pl.Series] = {}
        texts: dict[str, list] = {}
        errors: list[RowError] = []
        for column in self.columns.values():
            given = values[column.name]
            series = _native(column, given)
            if series is not None:
                native[column.name] = series
                continue
            try:
                texts[column.name] = [_text(v) for v in given]
            except TypeError:
                # A list or an object where a column has one value: that row breaks the rule.
                texts[column.name] = [_text(v) if _is_scalar(v) else None for v in given]
                errors += [
                    RowError(i, column.name, SCALAR_VALUE, type(v).__name__)
                    for i, v in enumerate(given)
                    if not _is_scalar(v)
                ]
        text = pl.DataFrame(texts, schema=dict.fromkeys(texts, pl.String))
        cast = tuple(c for c in self._cast_columns if c.name in texts)
        typed = text.select(self._casts(cast)) if cast else text
        if cast and typed[_BROKEN].any():
            flags = text.select(**{c.name: _broken(c) for c in cast})
            for column in cast:
                rule = f"dtype({_kind(column.dtype)})"
                errors += [
                    RowError(i, column.name, rule, texts[column.name][i])
                    for i in flags[column.name].arg_true().to_list()
                ]
        casted = {c.name for c in cast}
        frame = pl.DataFrame(
            [
                native[name] if name in native else (typed if name in casted else text)[name]
                for name in self.columns
            ]
        )
        return frame, errors


def _native(column: RequestColumn, values: list) -> pl.Series | None:
    """The column straight from JSON values already of its type, else None."""
    dtype = column.dtype
    if dtype.is_integer():
        fits = all(v is None or type(v) is int for v in values)
    elif dtype.is_float():
        fits = all(v is None or type(v) in (int, float) for v in values)
    elif dtype == pl.Boolean:
        fits = all(v is None or type(v) is bool for v in values)
    else:
        return None
    if not fits:
        return None
    try:
        return pl.Series(column.name, values, dtype=dtype)
    except (OverflowError, TypeError, pl.exceptions.PolarsError):
        return None


def _broken(column: RequestColumn) -> pl.Expr:
    """The text a row holds for a typed column does not fit the column's type."""
    return pl.col(column.name).is_not_null() & _typed(column.name, column.dtype).is_null()


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def request_schema(spec: DatasetSpec, raw: pl.Schema) -> RequestSchema:
    """What a request row of `spec` carries, given the schema of its raw batches."""
    names = [c for c in raw.names() if c not in (EVENT_TIME, PARTITION, WINDOW, SOURCE_ROW)]
    extra = [*spec.columns, *spec.pii.actions(), *spec.id_columns, *target_source_columns(spec)]
    extra += spec.time.source_columns if spec.time else []
    extra += [key for join in spec.joins for key in join.keys]
    names += [c for c in dict.fromkeys(extra) if c not in names]
    columns = {}
    for name in names:
        dtype = raw.get(name, pl.String())
        columns[name] = RequestColumn(
            name, dtype, _role(spec, name), _v2_datatype(spec, name, dtype)
        )
    return RequestSchema(spec, columns)


def batch_raw_schema(
    spec: DatasetSpec, delta: DeltaStore, raw_table: dg.AssetKey, pii_key: bytes | None
) -> pl.Schema:
    """The schema of the spec's raw batches: its `raw` table's, else the source's as the
    batch path reads it (declared columns as text, personal data dropped or hashed)."""
    if delta.version(raw_table) is not None:
        return delta.scan(raw_table).collect_schema()
    source = scan_source(spec.source, set(spec.columns)).collect_schema()
    return protect_pii(pl.DataFrame(schema=source), spec, pii_key).schema
