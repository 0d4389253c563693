"""The ingestion contract at the reader: every source row is in the batch or counted outside it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION, PiiError, read_raw_batch
from mlops_assets.ingest.sniff import first_invalid_utf8, kind_of_bytes
from mlops_assets.specs.model import DatasetSpec

DAYS = ["2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03", "bad", None, "2024-01-05"]


def events(tmp_path: Path, **fields: Any) -> DatasetSpec:
    path = tmp_path / "events.csv"
    pl.DataFrame({"day": DAYS, "y": [1, 0, 1, 0, 1, 0, 1], "email": ["a@x"] * 7}).write_csv(path)
    data: dict[str, Any] = {
        "name": "events",
        "source": {"uri": str(path)},
        "target": {"column": "y", "task": "binary"},
        "time": {"column": "day", "format": "%Y-%m-%d", "start": "2024-01-01", "end": "2024-01-05"},
        "pii": {"columns": ["Email"]},
    }
    data.update(fields)
    return DatasetSpec.model_validate(data)


def window(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)


def test_the_first_partition_run_holds_the_rows_without_time(tmp_path: Path) -> None:
    batch = read_raw_batch(
        events(tmp_path), window("2024-01-01", "2024-01-03"), None, dt.date(2024, 1, 1)
    )
    assert batch.source_rows == 7
    assert batch.rows_before_start == 1 and batch.rows_after_end == 1
    assert batch.rows_outside_run == 1  # 2024-01-03 lies in the range, not in this run
    assert batch.rows_without_time == 2 and batch.timeless_in_batch
    assert batch.frame.height == 4 and batch.accounted()
    timeless = batch.frame.filter(pl.col(EVENT_TIME).is_null())
    assert timeless["day"].to_list() == ["bad", None]
    assert timeless[PARTITION].to_list() == [dt.date(2024, 1, 1)] * 2
    assert "email" not in batch.frame.columns and "Email" not in batch.frame.columns


def test_a_later_run_counts_them_but_does_not_hold_them(tmp_path: Path) -> None:
    batch = read_raw_batch(events(tmp_path), window("2024-01-03", "2024-01-05"), None, None)
    assert batch.frame["day"].to_list() == ["2024-01-03"]
    assert batch.rows_without_time == 2 and not batch.timeless_in_batch
    assert batch.out_of_window == 6 and batch.accounted()


def test_a_declared_pii_column_that_is_absent_fails_before_anything_is_read(
    tmp_path: Path,
) -> None:
    spec = events(tmp_path, pii={"columns": ["e_mail"]})
    with pytest.raises(PiiError, match=r"`e_mail` declared in pii.columns are not in the source"):
        read_raw_batch(spec, None, None)


def test_hashed_pii_keeps_the_spec_name(tmp_path: Path) -> None:
    spec = events(tmp_path, pii={"columns": {" EMAIL": "hash"}})
    batch = read_raw_batch(spec, window("2024-01-01", "2024-01-05"), b"key", None)
    assert " EMAIL" in batch.frame.columns and "email" not in batch.frame.columns
    assert not batch.frame[" EMAIL"].str.contains("@").any()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"", "empty"),
        (b"PAR1\x15\x04", "parquet"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"PK\x03\x04", "zip"),
        (b"a,b\n1,\x00\x01\x02", "binary"),
        (b"a,b\n1,2\n", "text"),
        ("a,b\n1,café\n".encode("latin-1"), "text"),
    ],
)
def test_kind_of_bytes(head: bytes, kind: str) -> None:
    assert kind_of_bytes(head) == kind


def test_first_invalid_utf8_across_block_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    good = ("é" * 400_000 + "\n").encode()  # 800,001 bytes of two-byte characters
    path.write_bytes(good * 2 + b"ok\n" + b"caf\xe9\n")
    offset, line, byte = first_invalid_utf8(str(path))
    assert (offset, line, byte) == (len(good) * 2 + 6, 4, 0xE9)
    clean = tmp_path / "clean.csv"
    clean.write_bytes(good * 3)
    assert first_invalid_utf8(str(clean)) is None
