"""The bad-input corpus: every way a real table goes wrong, each with the platform's own message.

One good champion is trained per spec shape, once for the module (an unpartitioned churn
table and a daily-partitioned events table). Each case then writes a bad source and runs
only the data assets (raw, validated + rejected_rows, features) with `dg.materialize` on
the same Dagster instance and Delta tables. Every case asserts:

- the message: the step's one-line reason (as `mlops run` prints it) or the failing
  check's description, naming the file, the column or line, and the rule;
- the ingestion contract: `source_rows = valid + rejected + out_of_window`, and rejected
  rows are kept with their reasons (or, when the raw step stops, nothing new is stored);
- no Delta version is lost: every earlier version of every data table still reads, and a
  table the failed run did not write holds exactly the rows it held before;
- the champion is unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml

from tests.conftest import ROOT, customers_table

pytestmark = pytest.mark.slow

DATA_ASSETS = ("raw", "validated", "rejected_rows", "features")
CHURN: dict[str, Any] = {
    "name": "churn",
    "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
    "id_columns": ["customer_id"],
    "pii": {"columns": ["email"], "action": "drop"},
    "columns": {
        "plan": {"dtype": "string", "allowed": ["basic", "plus", "pro"], "nullable": False},
        "tenure_months": {"dtype": "int", "min": 0, "max": 120},
        "monthly_spend": {"dtype": "float", "min": 0},
    },
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
}
EVENT_DAYS = 30
EVENTS: dict[str, Any] = {
    "name": "events",
    "target": {"column": "label", "task": "binary"},
    "id_columns": ["event_id"],
    "time": {"column": "day", "format": "%Y-%m-%d", "start": "2024-01-01", "end": "2024-01-31"},
    "columns": {"amount": {"dtype": "float"}, "kind": {"dtype": "string"}},
    "split": {"valid_fraction": 0.15, "test_fraction": 0.2},
    "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
}


def events_table(rows_per_day: int = 40, seed: int = 3) -> pl.DataFrame:
    """A daily table with signal: the label depends on amount and kind."""
    rng = np.random.default_rng(seed)
    n = EVENT_DAYS * rows_per_day
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i // rows_per_day) for i in range(n)]
    amount = np.round(rng.gamma(2.0, 20.0, n), 2)
    kind = rng.choice(["web", "shop", "phone"], n)
    logit = -1.5 + 0.03 * amount + np.where(kind == "web", 0.7, -0.3)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pl.DataFrame(
        {
            "event_id": np.arange(1, n + 1),
            "day": [d.isoformat() for d in days],
            "hour": rng.integers(0, 24, n),
            "amount": amount,
            "kind": kind,
            "label": label,
        }
    )


@dataclass
class Corpus:
    """The module's platform: a Dagster home, data folder and the two trained specs."""

    home: Path
    data: Path
    resources: dict
    champions: dict[str, str] = field(default_factory=dict)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.get()

    def table(self, spec: str, asset: str) -> Path:
        return self.home / "tables" / spec / asset

    def version(self, spec: str, asset: str) -> int | None:
        from deltalake import DeltaTable

        path = self.table(spec, asset)
        return DeltaTable(str(path)).version() if path.exists() else None

    def read(self, spec: str, asset: str, version: int | None = None) -> pl.DataFrame:
        return pl.read_delta(str(self.table(spec, asset)), version=version)

    def champion(self, spec: str) -> str:
        client = self.resources["mlflow_tracking"].client()
        return str(client.get_model_version_by_alias(f"{spec}_model", "champion").version)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("corpus")
    home, specs, data = root / "home", root / "specs", root / "data"
    for folder in (home, specs, data):
        folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("MLOPS_BUILTIN_SPECS", "0")
        patch.setenv("MLOPS_SPECS_PATH", str(specs))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLOPS_DATA_ROOT", raising=False)
        from mlops_assets.cli import run_spec
        from mlops_assets.platform_resources import build_resources

        customers_table().write_csv(data / "churn.csv")
        events_table().write_csv(data / "events.csv")
        for spec, name in ((CHURN, "churn"), (EVENTS, "events")):
            full = {**spec, "source": {"uri": str(data / f"{name}.csv")}}
            (specs / f"{name}.yaml").write_text(yaml.safe_dump(full, sort_keys=False))
            summary = run_spec(name)
            assert summary["success"] and summary["model_version"] == 1, summary
        corpus = Corpus(home, data, build_resources())
        corpus.champions = {name: corpus.champion(name) for name in ("churn", "events")}
        yield corpus


# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it, how the spec reads it, and what must happen."""

    id: str
    write: Callable[[Path], None]
    spec: str = "churn"
    file_name: str = "source.csv"
    source: dict[str, Any] = field(default_factory=dict)
    spec_changes: Callable[[dict], None] | None = None
    # "error": the raw step fails with `message`; "checks": the run's failing checks contain
    # `message` (each a (check, text) pair); "ok": the run succeeds.
    outcome: str = "ok"
    message: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    rejected_reason: str | None = None
    rejected_rows: int | None = None
    extra: Callable[[Corpus, dict], None] | None = None


def _csv(frame: pl.DataFrame, **kwargs: Any) -> Callable[[Path], None]:
    return lambda path: frame.write_csv(path, **kwargs)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _text_csv(frame: pl.DataFrame) -> str:
    return frame.write_csv()


def _customers(**changes: Any) -> pl.DataFrame:
    table = customers_table()
    return table.with_columns(**changes) if changes else table


def _lines(frame: pl.DataFrame) -> list[str]:
    return _text_csv(frame).splitlines()


def _replace_line(frame: pl.DataFrame, index: int, line: str) -> bytes:
    lines = _lines(frame)
    lines[index] = line
    return ("\n".join(lines) + "\n").encode()


def _when_id(
    ids: list[int], value: Any, column: str, table: pl.DataFrame | None = None
) -> pl.DataFrame:
    table = customers_table() if table is None else table
    return table.with_columns(
        pl.when(pl.col("customer_id").is_in(ids))
        .then(pl.lit(value))
        .otherwise(
            pl.col(column).cast(pl.String)
            if value is None or isinstance(value, str)
            else pl.col(column)
        )
        .alias(column)
    )


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _latin1_at(row: int) -> bytes:
    lines = _text_csv(customers_table()).splitlines()
    fields = next(csv.reader([lines[row]]))
    fields[2] = "café"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    lines[row] = buffer.getvalue()
    return ("\n".join(lines) + "\n").encode("latin-1")


def _with_title() -> bytes:
    return b"Customer export 2024-05-01\n" + _text_csv(customers_table()).encode()


def _sci_past_row_10000(path: Path) -> None:
    table = customers_table(12_000).with_columns(
        pl.Series("visits", [str(i % 50) for i in range(12_000)])
    )
    visits = table["visits"].to_list()
    visits[11_500] = "1.00E+05"
    table.with_columns(pl.Series("visits", visits)).write_csv(path)


def _no_pii(corpus: Corpus, run: dict) -> None:
    for asset in DATA_ASSETS:
        frame = corpus.read("churn", asset)
        assert not any("email" in c.lower() for c in frame.columns), (asset, frame.columns)
        text = frame.write_ndjson()
        assert "@example.com" not in text, asset


def _decoded_latin1(corpus: Corpus, run: dict) -> None:
    raw = corpus.read("churn", "raw")
    assert "café" in raw["plan"].to_list()


def _float_visits(corpus: Corpus, run: dict) -> None:
    raw = corpus.read("churn", "raw")
    assert raw.schema["visits"] == pl.Float64 and raw["visits"].max() == 100_000


def _clipped_long_value(corpus: Corpus, run: dict) -> None:
    descriptions = [c["description"] or "" for c in run["failed_checks"]]
    assert descriptions and all(len(d) < 1500 for d in descriptions), descriptions
    assert any("(10000 characters)" in d for d in descriptions)
    reason = corpus.read("churn", "rejected_rows")["_rejection_reasons"][0]
    assert "(10000 characters)" in reason and len(reason) < 300


def _out_of_window_counted(corpus: Corpus, run: dict) -> None:
    raw = run["metadata"]["raw"]
    assert raw["rows_before_start"] == 7 and raw["rows_after_end"] == 5


def _events_with(mutate: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    return lambda path: mutate(events_table()).write_csv(path)


def _set_rows(
    column: str, rows: range | list[int], value: Any
) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def mutate(frame: pl.DataFrame) -> pl.DataFrame:
        index = pl.int_range(pl.len())
        return frame.with_columns(
            pl.when(index.is_in(list(rows)))
            .then(pl.lit(value))
            .otherwise(pl.col(column).cast(pl.String))
            .alias(column)
        )

    return mutate


def _dmy_for_every_tenth(frame: pl.DataFrame) -> pl.DataFrame:
    index = pl.int_range(pl.len())
    as_dmy = pl.col("day").str.to_date().dt.strftime("%d/%m/%Y")
    return frame.with_columns(
        pl.when(index % 10 == 0).then(as_dmy).otherwise(pl.col("day")).alias("day")
    )


def _outside_range(frame: pl.DataFrame) -> pl.DataFrame:
    early = frame.head(7).with_columns(
        pl.lit("2023-12-30").alias("day"), (pl.col("event_id") + 100_000)
    )
    late = frame.head(5).with_columns(
        pl.lit("2024-02-03").alias("day"), (pl.col("event_id") + 200_000)
    )
    return pl.concat([frame, early, late])


def _as_parts(frame: pl.DataFrame) -> pl.DataFrame:
    day = pl.col("day").str.to_date()
    frame = frame.with_columns(
        day.dt.year().alias("y"), day.dt.month().alias("m"), day.dt.day().alias("d")
    )
    index = pl.int_range(pl.len())
    return frame.with_columns(pl.when(index < 15).then(13).otherwise(pl.col("m")).alias("m")).drop(
        "day"
    )


def _parts_spec(spec: dict) -> None:
    spec["time"] = {
        "parts": {"year": "y", "month": "m", "day": "d"},
        "start": "2024-01-01",
        "end": "2024-01-31",
    }


def _hour_spec(spec: dict) -> None:
    spec["time"] = {**spec["time"], "hour_column": "hour"}


def _numeric_target(spec: dict) -> None:
    spec["target"] = {"column": "churned", "task": "binary"}


def _limited_inference(spec: dict) -> None:
    spec["source"]["csv"] = {"infer_schema_length": 100}


TEN_THOUSAND = "x" * 10_000
CASES: list[Case] = [
    # --- what the file is ------------------------------------------------------------------
    Case("parquet_named_csv_read_by_its_bytes", _bytes(_parquet_bytes(customers_table()))),
    Case(
        "format_csv_on_parquet",
        _bytes(_parquet_bytes(customers_table())),
        file_name="source.parquet",
        source={"format": "csv"},
        outcome="error",
        message=("it is a Parquet file", "set source.format: parquet", "(rule: source.format)"),
    ),
    Case(
        "parquet_named_csv_with_format_csv",
        _bytes(_parquet_bytes(customers_table())),
        source={"format": "csv"},
        outcome="error",
        message=("source.csv: the spec reads it as CSV", "set source.format: parquet"),
    ),
    Case(
        "text_named_parquet",
        _csv(customers_table()),
        file_name="source.parquet",
        outcome="error",
        message=(
            "not a Parquet file (no PAR1 magic bytes)",
            "delimited text",
            "set source.format: csv",
        ),
    ),
    Case(
        "empty_file",
        _bytes(b""),
        outcome="error",
        message=("the file is empty (0 bytes)", "(rule: source.not_empty)"),
    ),
    Case(
        "zero_byte_parquet",
        _bytes(b""),
        file_name="source.parquet",
        outcome="error",
        message=("the file is empty (0 bytes)",),
    ),
    Case(
        "header_only",
        _bytes(b"customer_id,tenure_months,plan,monthly_spend,email,churned\n"),
        outcome="error",
        message=("the source holds no data rows (only a header", "(rule: source.not_empty)"),
    ),
    Case(
        "blank_lines_only",
        _bytes(b"\n\n\n"),
        outcome="error",
        message=("holds no rows", "(rule: source.not_empty)"),
    ),
    Case(
        "binary_garbage",
        _bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))),
        outcome="error",
        message=("binary data, not delimited text", "(rule: source.format)"),
    ),
    Case("gzip_named_csv", _bytes(_gzip(_text_csv(customers_table()).encode()))),
    Case(
        "gzip_csv_gz",
        _bytes(_gzip(_text_csv(customers_table()).encode())),
        file_name="source.csv.gz",
    ),
    Case(
        "gzip_holding_binary",
        _bytes(_gzip(bytes(range(256)) * 8)),
        file_name="source.csv.gz",
        outcome="error",
        message=("the compressed file holds binary data", "(rule: source.format)"),
    ),
    Case(
        "zip_with_two_files",
        _bytes(_zip({"a.csv": b"x\n1\n", "b.csv": b"x\n2\n"})),
        file_name="source.zip",
        outcome="error",
        message=("a zipped source must hold exactly one file",),
    ),
    Case(
        "zip_with_one_file",
        _bytes(_zip({"customers.csv": _text_csv(customers_table()).encode()})),
        file_name="source.zip",
    ),
    Case("missing_file", lambda path: None, outcome="error", message=("source.csv: no such file",)),
    # --- how the text is laid out ------------------------------------------------------------
    Case("crlf_line_endings", _bytes(_text_csv(customers_table()).replace("\n", "\r\n").encode())),
    Case("utf8_byte_order_mark", _bytes(b"\xef\xbb\xbf" + _text_csv(customers_table()).encode())),
    Case(
        "wrong_separator_semicolon",
        _csv(customers_table(), separator=";"),
        outcome="error",
        message=(
            "reads as one column",
            "looks ';'-separated",
            "set source.csv.separator: ';'",
            "(rule: source.csv.separator)",
        ),
    ),
    Case(
        "wrong_separator_tab",
        _csv(customers_table(), separator="\t"),
        outcome="error",
        message=("'\\t' (tab)-separated", "(rule: source.csv.separator)"),
    ),
    Case(
        "semicolon_declared",
        _csv(customers_table(), separator=";"),
        source={"csv": {"separator": ";"}},
    ),
    Case(
        "duplicate_header_names",
        _bytes(
            _replace_line(customers_table(), 0, "customer_id,tenure_months,plan,plan,email,churned")
        ),
        outcome="error",
        message=(
            "names a column more than once",
            "`plan` in fields 3, 4",
            "(rule: source.csv.unique_header)",
        ),
    ),
    Case(
        "ragged_row_early",
        _bytes(_replace_line(customers_table(), 3, "3,12,basic,10.5,x@example.com,no,EXTRA")),
        outcome="error",
        message=("line 4 has 7 fields, the header has 6", "(rule: source.csv.field_count)"),
    ),
    Case(
        "ragged_short_row_early",
        _bytes(_replace_line(customers_table(), 5, "5,12,basic")),
        outcome="error",
        message=("line 6 has 3 fields, the header has 6",),
    ),
    Case(
        "ragged_row_late",
        _bytes(_replace_line(customers_table(), 1400, "1400,12,basic,10.5,x@example.com,no,EXTRA")),
        outcome="error",
        message=("line 1401 has 7 fields, the header has 6", "(rule: source.csv.field_count)"),
    ),
    Case(
        "title_line_without_skip_rows",
        _bytes(_with_title()),
        outcome="error",
        message=("line 2 has 6 fields, the header has 1", "set source.csv.skip_rows"),
    ),
    Case("title_line_with_skip_rows", _bytes(_with_title()), source={"csv": {"skip_rows": 1}}),
    Case(
        "quoted_separator_in_values",
        _csv(_when_id([4, 8], "plus", "plan").with_columns(pl.lit("a, b").alias("note"))),
    ),
    Case(
        "latin1_bytes_early",
        _bytes(_latin1_at(3)),
        outcome="error",
        message=(
            "byte 0xE9 at offset",
            "(line 4) is not valid UTF-8",
            "set source.csv.encoding: latin1",
            "(rule: source.csv.encoding)",
        ),
    ),
    Case(
        "latin1_bytes_past_the_head",
        _bytes(_latin1_at(1450)),
        outcome="error",
        message=("(line 1451) is not valid UTF-8", "set source.csv.encoding: latin1"),
    ),
    Case(
        "latin1_declared",
        _bytes(_latin1_at(3)),
        source={"csv": {"encoding": "latin1"}},
        outcome="checks",
        failed_checks=("values_within_allowed_categories",),
        rejected_reason="plan: isin(['basic', 'plus', 'pro']) (value café)",
        rejected_rows=1,
        extra=_decoded_latin1,
    ),
    Case("excel_number_past_row_10000", _sci_past_row_10000, extra=_float_visits),
    Case(
        "excel_number_with_limited_inference",
        _sci_past_row_10000,
        spec_changes=_limited_inference,
        extra=_float_visits,
    ),
    Case(
        "question_mark_nulls_undeclared",
        _csv(_when_id([2, 3], "?", "tenure_months")),
        rejected_reason="tenure_months: dtype(int) (value ?)",
        rejected_rows=2,
    ),
    Case(
        "question_mark_nulls_declared",
        _csv(_when_id([2, 3], "?", "tenure_months")),
        source={"csv": {"null_values": ["?", ""]}},
    ),
    # --- values -------------------------------------------------------------------------------
    Case(
        "wrong_type_values",
        _csv(_when_id([5, 9, 77], "abc", "tenure_months")),
        rejected_reason="tenure_months: dtype(int) (value abc)",
        rejected_rows=3,
    ),
    Case(
        "ten_thousand_character_value",
        _csv(_when_id([6], TEN_THOUSAND, "plan")),
        outcome="checks",
        failed_checks=("values_within_allowed_categories",),
        rejected_rows=1,
        extra=_clipped_long_value,
    ),
    Case(
        "text_label_in_numeric_target",
        _csv(
            _customers(
                churned=pl.when(pl.col("churned") == "yes").then(pl.lit("1")).otherwise(pl.lit("0"))
            ).pipe(lambda t: _when_id([10, 20, 30], "abc", "churned", t))
        ),
        spec_changes=_numeric_target,
        rejected_reason="churned: target.label (value abc)",
        rejected_rows=3,
    ),
    Case(
        "some_null_targets",
        _csv(_when_id(list(range(1, 31)), None, "churned")),
        outcome="checks",
        failed_checks=("target_nulls_within_limit",),
        message=("churned: 30 of 1500 rows have no target",),
        rejected_reason="churned: not_nullable (value null)",
        rejected_rows=30,
    ),
    Case(
        "all_null_target",
        _csv(_customers(churned=pl.lit(None, dtype=pl.String))),
        outcome="checks",
        failed_checks=("target_nulls_within_limit", "target_is_not_constant"),
        message=("churned: 1500 of 1500 rows have no target", "0 distinct classes"),
        rejected_rows=1500,
    ),
    Case(
        "one_class_target",
        _csv(_customers(churned=pl.lit("no"))),
        outcome="checks",
        failed_checks=("target_is_not_constant",),
        message=(
            "column churned: 1 distinct classes in 1500 valid rows",
            "(rule: target.two_classes)",
        ),
    ),
    Case(
        "all_null_feature",
        _csv(_customers(monthly_spend=pl.lit(None, dtype=pl.Float64))),
        outcome="checks",
        failed_checks=("no_feature_is_all_null",),
        message=(
            "feature column(s) monthly_spend are null in all 1500 rows",
            "(rule: feature.not_all_null)",
        ),
    ),
    Case(
        "missing_required_column",
        _csv(customers_table().drop("plan")),
        outcome="checks",
        failed_checks=("required_columns_present",),
        message=("missing column(s) plan (rule: column_present)",),
    ),
    Case(
        "renamed_required_column",
        _csv(customers_table().rename({"plan": "Plan "})),
        outcome="checks",
        failed_checks=("required_columns_present",),
        message=("missing column(s) plan", "`Plan ` looks like `plan`"),
    ),
    # --- personal data ------------------------------------------------------------------------
    Case(
        "pii_header_capitalized", _csv(customers_table().rename({"email": "Email"})), extra=_no_pii
    ),
    Case(
        "pii_header_with_spaces",
        _csv(customers_table().rename({"email": " email "})),
        extra=_no_pii,
    ),
    Case(
        "pii_column_absent",
        _csv(customers_table().rename({"email": "e_mail"})),
        outcome="error",
        message=(
            "PII column(s) `email` declared in pii.columns are not in the source",
            "(rule: pii.column_present)",
            "nothing was stored",
        ),
    ),
    Case(
        "pii_matched_twice",
        _csv(customers_table().with_columns(pl.col("email").alias("Email"))),
        outcome="error",
        message=("`email` matches `email`, `Email`", "(rule: pii.column_unique)"),
    ),
    # --- event time ---------------------------------------------------------------------------
    Case(
        "wrong_time_format",
        _csv(events_table()),
        spec="events",
        spec_changes=lambda spec: spec["time"].update(format="%d/%m/%Y"),
        outcome="checks",
        failed_checks=("event_times_parse", "rejected_share_within_limit"),
        message=(
            "column day: 1200 of 1200 source rows have no event time (missing, or not matching format '%d/%m/%Y')",
            "(rule: time.format)",
        ),
        rejected_reason="day: time.format (value 2024-01-01)",
        rejected_rows=1200,
    ),
    Case(
        "mixed_time_formats",
        _events_with(_dmy_for_every_tenth),
        spec="events",
        outcome="checks",
        failed_checks=("event_times_parse", "rejected_share_within_limit"),
        message=("120 of 1200 source rows have no event time", "(rule: time.format)"),
        rejected_reason="day: time.format (value 01/01/2024)",
        rejected_rows=120,
    ),
    Case(
        "nulls_in_time_column",
        _events_with(_set_rows("day", [100, 500, 900], None)),
        spec="events",
        rejected_reason="day: time.not_null (value null)",
        rejected_rows=3,
    ),
    Case(
        "rows_outside_the_range",
        _events_with(_outside_range),
        spec="events",
        extra=_out_of_window_counted,
    ),
    Case(
        "hour_column_out_of_range",
        _events_with(_set_rows("hour", [1, 2], "25")),
        spec="events",
        spec_changes=_hour_spec,
        rejected_reason="hour: time.hour (value 25)",
        rejected_rows=2,
    ),
    Case(
        "time_parts_that_are_no_date",
        _events_with(_as_parts),
        spec="events",
        spec_changes=_parts_spec,
        outcome="checks",
        failed_checks=("rejected_share_within_limit",),
        rejected_reason="y/m/d: time.parts (value 2024-13-1)",
        rejected_rows=15,
    ),
    Case(
        "time_column_missing",
        _csv(events_table().rename({"day": "Day"})),
        spec="events",
        outcome="error",
        message=(
            "time column(s) `day` not found",
            "`Day` looks like `day`",
            "(rule: time.column_present)",
        ),
    ),
]


# --- running a case --------------------------------------------------------------------------


def _spec_for(corpus: Corpus, case: Case, path: Path) -> dict:
    import copy

    base = copy.deepcopy(CHURN if case.spec == "churn" else EVENTS)
    base["source"] = {"uri": str(path), **copy.deepcopy(case.source)}
    if case.spec_changes:
        case.spec_changes(base)
    return base


def _materialize(corpus: Corpus, spec_dict: dict) -> dict:
    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.cli import _check_row, _summarize_failure
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs.model import DatasetSpec
    from sensors.bootstrap import PARTITION_RANGE_END, PARTITION_RANGE_START

    spec = DatasetSpec.model_validate(spec_dict)
    names = SpecAssets(spec)
    tags = {"mlops/spec": spec.name}
    if names.partitions_def is not None:
        keys = names.partitions_def.get_partition_keys()
        tags |= {PARTITION_RANGE_START: keys[0], PARTITION_RANGE_END: keys[-1]}
    result = dg.materialize(
        build_spec_assets(spec),
        selection=[names.key(a) for a in DATA_ASSETS],
        instance=corpus.instance(),
        resources=corpus.resources,
        tags=tags,
        raise_on_error=False,
    )
    failed = [_check_row(c) for c in result.get_asset_check_evaluations() if not c.passed]
    metadata = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        metadata[mat.asset_key.path[-1]] = {
            k: getattr(v, "value", v) for k, v in mat.metadata.items()
        }
    return {
        "success": result.success,
        "failed_checks": failed,
        "reason": None if result.success else _summarize_failure(result.all_events, failed),
        "metadata": metadata,
    }


def _rows(metadata: dict) -> int:
    return metadata.get("dagster/row_count", metadata.get("rows_in_run"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(corpus: Corpus, case: Case, tmp_path: Path) -> None:
    path = corpus.data / case.id / case.file_name
    path.parent.mkdir()
    case.write(path)
    before = {asset: corpus.version(case.spec, asset) for asset in DATA_ASSETS}
    before_rows = {asset: corpus.read(case.spec, asset) for asset in DATA_ASSETS}

    run = _materialize(corpus, _spec_for(corpus, case, path))
    failed = {c["check"].split(":")[-1]: c for c in run["failed_checks"]}

    if case.outcome == "error":
        assert not run["success"]
        for text in case.message:
            assert text in run["reason"], run["reason"]
        assert str(path.name) in run["reason"] or str(path) in run["reason"], run["reason"]
        # Nothing was stored: every table holds what it held, at the version it was.
        for asset in DATA_ASSETS:
            assert corpus.version(case.spec, asset) == before[asset], asset
            assert corpus.read(case.spec, asset).equals(before_rows[asset]), asset
    else:
        assert set(case.failed_checks) <= set(failed), (case.failed_checks, failed, run["reason"])
        if case.outcome == "ok":
            assert not [c for c in failed.values() if c["severity"] == "ERROR"], failed
            assert run["success"], run["reason"]
        shown = " ".join(c["description"] or "" for c in failed.values())
        for text in case.message:
            assert text in shown, shown
        meta = run["metadata"]
        assert corpus.version(case.spec, "raw") == (before["raw"] or 0) + 1
        if "validated" in meta:
            raw = meta["raw"]
            valid, rejected = _rows(meta["validated"]), _rows(meta["rejected_rows"])
            assert raw["source_rows"] == valid + rejected + raw["rows_out_of_window"], (
                raw,
                valid,
                rejected,
            )
            kept = corpus.read(case.spec, "rejected_rows")
            assert kept.height == rejected
            if case.rejected_rows is not None:
                assert rejected == case.rejected_rows
            if case.rejected_reason is not None:
                assert case.rejected_reason in kept["_rejection_reasons"].to_list(), kept[
                    "_rejection_reasons"
                ].head(3)
            assert kept["_rejection_reasons"].null_count() == 0
        else:
            # Stopped at the raw asset's blocking check: raw keeps every source row.
            assert corpus.read(case.spec, "raw").height == meta["raw"]["source_rows"]
            for asset in ("validated", "rejected_rows", "features"):
                assert corpus.version(case.spec, asset) == before[asset], asset
        if "features" not in meta:
            assert corpus.read(case.spec, "features").equals(before_rows["features"])
    if case.extra:
        case.extra(corpus, run)

    # No earlier Delta version is lost, and the champion did not move.
    for asset in DATA_ASSETS:
        for version in range(corpus.version(case.spec, asset) + 1):
            corpus.read(case.spec, asset, version=version)
    assert corpus.champion(case.spec) == corpus.champions[case.spec]


# --- spec files that are refused before anything runs ----------------------------------------

REFUSED_SPECS = [
    (
        "expression_reads_a_file",
        {
            "target": {
                "column": "churned",
                "task": "binary",
                "expression": "churned IN (SELECT nosuch FROM read_csv('PROBE'))",
            }
        },
        ("target.expression", "refused: subqueries are not allowed"),
    ),
    (
        "expression_table_function",
        {"target": {"column": "late", "task": "binary", "expression": "read_parquet('PROBE') > 1"}},
        ("function `read_parquet` at position 1 is not allowed",),
    ),
    (
        "pii_column_is_the_target",
        {"target": {"column": "Email", "task": "binary"}, "pii": {"columns": ["email"]}},
        ("PII column `Email` (pii.action drop) cannot be the target (rule: pii.not_used)",),
    ),
    (
        "pii_column_as_a_feature",
        {"pii": {"columns": ["email"]}, "categorical_columns": ["email"]},
        ("PII column `email` (pii.action drop) cannot be a feature (categorical_columns)",),
    ),
    (
        "number_as_a_column_name",
        {"columns": {1: {"dtype": "int"}}},
        ("columns: key `1` is a int, not a column name", "quote it"),
    ),
]


@pytest.mark.parametrize(
    ("case_id", "changes", "message"), REFUSED_SPECS, ids=[c[0] for c in REFUSED_SPECS]
)
def test_refused_spec(
    corpus: Corpus, case_id: str, changes: dict, message: tuple[str, ...], tmp_path: Path
) -> None:
    from mlops_assets.specs import SpecError, load_spec_file

    probe = tmp_path / "secret.txt"
    probe.write_text("root:x:0:0:very-secret-first-line\n")
    os.utime(probe, (1_000_000, 2_000_000))  # atime before mtime: any read moves it
    spec = {**CHURN, "source": {"uri": str(corpus.data / "churn.csv")}, **changes}
    text = yaml.safe_dump(spec, sort_keys=False).replace("PROBE", str(probe))
    path = tmp_path / f"{case_id}.yaml"
    path.write_text(text)
    versions = {asset: corpus.version("churn", asset) for asset in DATA_ASSETS}
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    for part in (str(path), *message):
        assert part in str(info.value), str(info.value)
    assert "very-secret" not in str(info.value)
    assert os.stat(probe).st_atime == 1_000_000, "the probe file was read"
    assert {asset: corpus.version("churn", asset) for asset in DATA_ASSETS} == versions
    assert corpus.champion("churn") == corpus.champions["churn"]


def test_yaml_no_is_a_column_name_not_false(corpus: Corpus, tmp_path: Path) -> None:
    from mlops_assets.specs import load_spec_file

    path = tmp_path / "no.yaml"
    path.write_text(
        "name: survey\nsource: {uri: s.csv}\n"
        "target: {column: answer, task: binary, positive_label: yes}\n"
        "columns:\n  No: {dtype: int, description: Respondent number}\n"
    )
    spec = load_spec_file(path)
    assert list(spec.columns) == ["No"]
    assert spec.target.positive_label == "yes"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) + len(REFUSED_SPECS) + 1 >= 45
