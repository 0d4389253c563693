"""Time without a timestamp (row order), the default time parts, and signs of hidden time order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest

from mlops_assets.features.build import (
    DEFAULT_TIME_PARTS,
    spec_time_parts,
    time_parts_covered,
    training_span,
)
from mlops_assets.ingest.raw_batch import SOURCE_ROW
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.split import SPLIT, assign_split
from mlops_assets.validation.row_order import row_order_findings


def spec(**fields: Any) -> DatasetSpec:
    data: dict[str, Any] = {
        "name": "unit",
        "source": {"uri": "unit.csv"},
        "target": {"column": "y", "task": "binary"},
    }
    data.update(fields)
    return DatasetSpec.model_validate(data)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, []),
        (2, ["hour"]),
        (13, ["hour"]),
        (14, ["hour", "day_of_week"]),
        (365, ["hour", "day_of_week"]),
        (731, ["hour", "day_of_week"]),
        (732, ["hour", "day_of_week", "month"]),
    ],
)
def test_a_part_needs_two_of_its_cycles_in_the_training_window(
    days: int, expected: list[str]
) -> None:
    assert time_parts_covered(DEFAULT_TIME_PARTS, dt.timedelta(days=days)) == expected


def test_the_training_window_comes_from_the_spec() -> None:
    explicit = spec(
        time={"column": "ts", "start": "2013-01-01", "end": "2014-01-01"},
        split={"valid_start": "2013-09-01", "test_start": "2013-10-01"},
    )
    assert training_span(explicit) == dt.timedelta(days=243)
    assert spec_time_parts(explicit) == ["hour", "day_of_week"]
    by_fraction = spec(time={"column": "ts", "start": "2020-01-01", "end": "2024-01-01"})
    assert training_span(by_fraction).days == int(1461 * 0.65)
    assert spec_time_parts(by_fraction) == ["hour", "day_of_week", "month"]
    open_ended = spec(time={"column": "ts", "start": "2024-01-01"})
    assert training_span(open_ended, today=dt.date(2024, 1, 11)).days == 6
    listed = spec(time={"column": "ts", "start": "2024-01-01"}, features={"time_parts": ["month"]})
    assert spec_time_parts(listed) == ["month"]
    assert spec_time_parts(spec()) == []


def test_row_order_split_puts_the_last_rows_in_test() -> None:
    ordered = spec(time={"order": "rows"}, split={"valid_fraction": 0.1, "test_fraction": 0.2})
    rows = 100
    frame = pl.DataFrame(
        {SOURCE_ROW: np.arange(rows, dtype=np.uint32)[::-1], "x": np.arange(rows), "y": [0, 1] * 50}
    )
    split, windows = assign_split(ordered, frame)
    by_split = {
        name: split.filter(pl.col(SPLIT) == name)[SOURCE_ROW].to_list()
        for name in ("train", "valid", "test")
    }
    assert by_split["test"] == list(range(80, 100))
    assert by_split["valid"] == list(range(70, 80))
    assert by_split["train"] == list(range(70))
    assert windows["test"] == "source rows 80 .. 99"


def test_a_random_table_shows_no_time_order() -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {"id": np.arange(2000), "x": rng.normal(size=2000), "y": rng.integers(0, 2, 2000)}
    )
    assert row_order_findings(spec(id_columns=["id"]), frame) == []


def test_a_growing_column_and_a_drifting_target_are_found() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    drift = (rng.random(n) < np.linspace(0.1, 0.6, n)).astype(int)
    frame = pl.DataFrame(
        {
            "id": np.arange(n),
            "recorded": [str(dt.date(2020, 1, 1) + dt.timedelta(days=i)) for i in range(n)],
            "x": rng.normal(size=n),
            "y": drift,
        }
    )
    findings = row_order_findings(spec(id_columns=["id"]), frame)
    assert findings[0] == "column `recorded` only grows or only shrinks along the rows"
    assert findings[1].startswith("the share of target `1` moves along the row order")
    # Declared as row-ordered (or with a time section), nothing is reported.
    assert row_order_findings(spec(id_columns=["id"], time={"order": "rows"}), frame) == []


def test_a_trending_regression_target_is_found() -> None:
    n = 1000
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"x": rng.normal(size=n), "y": np.linspace(0, 5, n) + rng.normal(size=n)})
    regression = spec(target={"column": "y", "task": "regression"})
    [finding] = row_order_findings(regression, frame)
    assert finding.startswith("the target trends along the row order (Spearman")
