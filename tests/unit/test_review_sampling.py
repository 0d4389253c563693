"""The review's row sample: seeded, whole time windows kept, and the spec copy that reads it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from mlops_assets.review.sampling import (
    REVIEW_ROW,
    SampleError,
    choose_rows,
    read_source,
    review_copy,
    write_sample,
)
from mlops_assets.review.spec_versions import changed_fields
from mlops_assets.specs.model import DatasetSpec

START = dt.date(2024, 1, 1)


def make_spec(**fields: Any) -> DatasetSpec:
    data: dict[str, Any] = {
        "name": "unit",
        "source": {"uri": "unit.csv"},
        "target": {"column": "y", "task": "binary"},
        **fields,
    }
    return DatasetSpec.model_validate(data)


def uneven_days(rows_per_day: list[int]) -> pl.DataFrame:
    """Rows on consecutive days, `rows_per_day[d]` on day d, timestamps as text like a CSV."""
    stamps = [
        f"{START + dt.timedelta(days=day)} {hour % 24:02d}:00:00"
        for day, rows in enumerate(rows_per_day)
        for hour in range(rows)
    ]
    return pl.DataFrame(
        {
            "ts": stamps,
            "x": np.arange(len(stamps)),
            "y": [0, 1] * (len(stamps) // 2) + [0] * (len(stamps) % 2),
        }
    )


def test_every_partition_keeps_its_share_and_at_least_one_row() -> None:
    rows_per_day = [40, 3, 1, 17, 100]
    frame = uneven_days(rows_per_day)
    spec = make_spec(time={"column": "ts", "start": START.isoformat()})
    sample = choose_rows(spec, frame, 0.1, seed=7)
    days = frame[sample.positions]["ts"].str.slice(0, 10).value_counts().sort("ts")
    assert days["count"].to_list() == [math.ceil(n * 0.1) for n in rows_per_day]
    assert sample.partitions == 5 and sample.source_rows == frame.height
    assert "within each of its 5 windows" in sample.describe()


def test_rows_outside_the_time_range_are_never_sampled() -> None:
    frame = uneven_days([10, 10, 10, 10])
    spec = make_spec(
        time={
            "column": "ts",
            "start": (START + dt.timedelta(days=1)).isoformat(),
            "end": (START + dt.timedelta(days=3)).isoformat(),
        }
    )
    sample = choose_rows(spec, frame, 1.0, seed=1)
    assert sample.eligible_rows == 20
    assert sorted(sample.positions.tolist()) == list(range(10, 30))


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    frame = uneven_days([50] * 6)
    spec = make_spec(time={"column": "ts", "start": START.isoformat()})
    first, again = choose_rows(spec, frame, 0.3, 42), choose_rows(spec, frame, 0.3, 42)
    other = choose_rows(spec, frame, 0.3, 43)
    assert np.array_equal(first.positions, again.positions)
    assert not np.array_equal(first.positions, other.positions)
    assert len(first.positions) == len(other.positions) == 6 * 15


def test_a_spec_without_time_is_sampled_over_the_whole_table() -> None:
    frame = pl.DataFrame({"x": np.arange(1000), "y": [0, 1] * 500})
    sample = choose_rows(make_spec(), frame, 0.25, seed=3)
    assert sample.rows == 250 and sample.partitions is None
    assert "250 of 1,000 source rows" in sample.describe()


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(SampleError, match="must be in"):
        choose_rows(make_spec(), pl.DataFrame({"x": [1, 2], "y": [0, 1]}), fraction, 0)


def test_the_sample_file_keeps_text_columns_and_the_copy_reads_it(tmp_path) -> None:
    """Declared columns stay text (validation still sees `abc`); `_review_row` is an identifier."""
    source = tmp_path / "table.csv"
    source.write_text("id;amount;y\n1;10;0\n2;abc;1\n3;7;0\n4;8;1\n")
    spec = make_spec(
        source={"uri": str(source), "csv": {"separator": ";"}},
        columns={"amount": {"dtype": "int"}},
    )
    frame = read_source(spec)
    copy = write_sample(spec, frame, choose_rows(spec, frame, 1.0, 0), tmp_path / "review")
    written = pl.read_parquet(copy.source.uri)
    assert written["amount"].to_list() == ["10", "abc", "7", "8"]
    assert written[REVIEW_ROW].to_list() == [0, 1, 2, 3]
    assert copy.source.resolved_format == "parquet" and copy.source.csv.separator == ";"
    assert copy.id_columns == [REVIEW_ROW] and copy.split.key == [REVIEW_ROW]


def test_the_copy_keeps_the_spec_s_own_split_key() -> None:
    spec = make_spec(id_columns=["customer_id"])
    copy = review_copy(spec, Path("sample.parquet"))
    assert copy.split.key == ["customer_id"]
    assert copy.id_columns == ["customer_id", REVIEW_ROW]


def test_changed_fields_name_the_fields_that_differ() -> None:
    before = make_spec(training={"num_boost_round": 50})
    after = make_spec(owner="team:growth", training={"num_boost_round": 60}, exclude_columns=["x"])
    assert changed_fields(before, after) == ["owner", "exclude_columns", "training.num_boost_round"]
