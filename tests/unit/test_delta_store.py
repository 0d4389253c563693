"""Delta table storage: window replacement, versions and time travel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from resources.delta_store import PARTITION_COLUMN, DeltaStore

KEY = dg.AssetKey(["unit", "validated"])


def day(d: int) -> dt.date:
    return dt.date(2024, 1, d)


def window(first: int, end: int) -> dg.TimeWindow:
    """The window of days `first` (inclusive) to `end` (exclusive) of January 2024."""
    return dg.TimeWindow(dt.datetime(2024, 1, first), dt.datetime(2024, 1, end))


def rows(days: list[int], tag: str, per_day: int = 2) -> pl.DataFrame:
    return pl.DataFrame(
        {
            PARTITION_COLUMN: [day(d) for d in days for _ in range(per_day)],
            "value": [f"{tag}-{d}-{i}" for d in days for i in range(per_day)],
        }
    )


def content(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select(PARTITION_COLUMN, "value").iter_rows())


@pytest.fixture
def store(tmp_path: Path) -> DeltaStore:
    return DeltaStore(root_uri=str(tmp_path / "tables"))


def test_table_uri_and_missing_version(store: DeltaStore, tmp_path: Path) -> None:
    assert store.table_uri(KEY) == str(tmp_path / "tables" / "unit" / "validated")
    assert (tmp_path / "tables").is_dir()
    assert store.version(KEY) is None


def test_window_write_replaces_only_that_window(store: DeltaStore) -> None:
    store.write(KEY, rows([1], "a"), window(1, 2))
    store.write(KEY, rows([2], "a"), window(2, 3))
    store.write(KEY, rows([3], "a"), window(3, 4))
    store.write(KEY, rows([2], "b", per_day=3), window(2, 3))
    table = store.read(KEY)
    assert content(table) == content(
        pl.concat([rows([1], "a"), rows([2], "b", per_day=3), rows([3], "a")])
    )
    assert content(store.read(KEY, window(2, 3))) == content(rows([2], "b", per_day=3))


def test_multi_day_window_replaces_the_whole_range(store: DeltaStore) -> None:
    store.write(KEY, rows([1, 2, 3, 4, 5], "a"), window(1, 6))
    store.write(KEY, rows([2, 3], "b"), window(2, 4))
    assert content(store.read(KEY)) == content(
        pl.concat([rows([1], "a"), rows([2, 3], "b"), rows([4, 5], "a")])
    )
    assert content(store.read(KEY, window(2, 5))) == content(
        pl.concat([rows([2, 3], "b"), rows([4], "a")])
    )


def test_every_write_is_a_new_version_and_old_versions_read_back(store: DeltaStore) -> None:
    first = rows([1], "a")
    versions = [store.write(KEY, first, window(1, 2))]
    versions.append(store.write(KEY, rows([2], "a"), window(2, 3)))
    versions.append(store.write(KEY, rows([1], "b"), window(1, 2)))
    versions.append(store.write(KEY, rows([1, 2], "c")))
    assert versions == [0, 1, 2, 3]
    assert store.version(KEY) == 3
    assert content(store.read(KEY, version=0)) == content(first)
    assert content(store.read(KEY, version=1)) == content(
        pl.concat([rows([1], "a"), rows([2], "a")])
    )
    assert content(store.read(KEY, version=2)) == content(
        pl.concat([rows([1], "b"), rows([2], "a")])
    )
    assert content(store.read(KEY)) == content(rows([1, 2], "c"))
    assert content(store.read(KEY, window(2, 3), version=1)) == content(rows([2], "a"))


def test_empty_frame_for_a_window_deletes_its_rows(store: DeltaStore) -> None:
    store.write(KEY, rows([1, 2, 3], "a"), window(1, 4))
    version = store.write(KEY, rows([2], "a").head(0), window(2, 3))
    assert version == 1
    assert content(store.read(KEY)) == content(rows([1, 3], "a"))
    assert store.read(KEY, window(2, 3)).height == 0
    assert content(store.read(KEY, version=0)) == content(rows([1, 2, 3], "a"))


def test_window_write_merges_new_columns(store: DeltaStore) -> None:
    store.write(KEY, rows([1], "a"), window(1, 2))
    store.write(KEY, rows([2], "a").with_columns(extra=pl.lit(7)), window(2, 3))
    table = store.read(KEY).sort(PARTITION_COLUMN)
    assert set(table.columns) == {PARTITION_COLUMN, "value", "extra"}
    assert table["extra"].to_list() == [None, None, 7, 7]


def test_whole_table_write_replaces_the_schema(store: DeltaStore) -> None:
    store.write(KEY, pl.DataFrame({"a": [1, 2], "dropped": ["x", "y"]}))
    version = store.write(KEY, pl.DataFrame({"a": [3], "b": [0.5]}))
    assert version == 1
    table = store.read(KEY)
    assert table.columns == ["a", "b"]
    assert table.to_dicts() == [{"a": 3, "b": 0.5}]
    assert store.read(KEY, version=0).columns == ["a", "dropped"]


def test_scan_is_lazy_and_filters_the_window(store: DeltaStore) -> None:
    store.write(KEY, rows([1, 2, 3], "a"), window(1, 4))
    lazy = store.scan(KEY, window(3, 10))
    assert isinstance(lazy, pl.LazyFrame)
    assert content(lazy.collect()) == content(rows([3], "a"))


def assert_names_missing_table(store: DeltaStore, failure: dg.Failure) -> None:
    message = str(failure.description)
    assert store.table_uri(dg.AssetKey(["unit", "never_written"])) in message
    assert "unit/never_written" in message
    assert "does not exist yet" in message


def test_scan_of_missing_table_raises_failure_naming_table(store: DeltaStore) -> None:
    with pytest.raises(dg.Failure) as info:
        store.scan(dg.AssetKey(["unit", "never_written"]))
    assert_names_missing_table(store, info.value)


def test_read_of_missing_table_raises_failure_naming_table(store: DeltaStore) -> None:
    with pytest.raises(dg.Failure) as info:
        store.read(dg.AssetKey(["unit", "never_written"]))
    assert_names_missing_table(store, info.value)


def test_read_of_missing_table_raises(store: DeltaStore) -> None:
    """Whatever the exception type, reading a table never written must not return rows."""
    with pytest.raises((dg.Failure, FileNotFoundError)):
        store.read(dg.AssetKey(["unit", "never_written"]))


def test_stores_are_isolated_by_asset_key(store: DeltaStore) -> None:
    other = dg.AssetKey(["unit", "raw"])
    store.write(KEY, rows([1], "a"))
    store.write(other, rows([1], "b"))
    store.write(other, rows([1], "c"))
    assert store.version(KEY) == 0
    assert store.version(other) == 1
    assert content(store.read(KEY)) == content(rows([1], "a"))
