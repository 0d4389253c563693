"""Tables whose time is not one timestamp column: row order as time, and a date plus an hour."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pytest

from mlops_assets.assets.metadata import names_of

pytestmark = pytest.mark.slow
ROWS = 2000


def drifting_table(seed: int = 11) -> pl.DataFrame:
    """Rows in time order with no timestamp: the label rate climbs along the rows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=ROWS)
    position = np.linspace(-1.5, 1.5, ROWS)
    label = (rng.random(ROWS) < 1 / (1 + np.exp(-(1.2 * x + position)))).astype(int)
    return pl.DataFrame({"x": x, "noise": rng.normal(size=ROWS), "label": label})


def spec(path, **fields) -> dict:
    return {
        "name": "ordered",
        "source": {"uri": str(path)},
        "target": {"column": "label", "task": "binary"},
        "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
        **fields,
    }


def test_row_order_as_time_tests_on_the_last_rows(platform):
    path = platform.data / "ordered.csv"
    drifting_table().write_csv(path)
    platform.write_spec(spec(path, time={"order": "rows"}))
    summary = platform.run("ordered")
    assert summary["success"], summary
    assert summary["partitions"] == [None, None]
    training = pl.read_delta(str(platform.home / "tables" / "ordered" / "training_set"))
    test_rows = training.filter(pl.col("_split") == "test")["_source_row"]
    assert test_rows.min() == ROWS - 400 and test_rows.max() == ROWS - 1
    valid_rows = training.filter(pl.col("_split") == "valid")["_source_row"]
    assert valid_rows.min() == ROWS - 700 and valid_rows.max() == ROWS - 401
    model = platform.instance().get_latest_materialization_event(dg.AssetKey(["ordered", "model"]))
    assert "_source_row" not in names_of(model.asset_materialization.metadata["features"])
    checks = {c["check"].split(":")[-1] for c in summary["failed_checks"]}
    assert "rows_show_no_time_order" not in checks


def test_the_same_table_without_a_time_section_is_warned_about(platform):
    path = platform.data / "ordered.csv"
    drifting_table().write_csv(path)
    platform.write_spec(spec(path))
    summary = platform.run("ordered")
    assert summary["success"], summary
    [warning] = [
        c
        for c in summary["failed_checks"]
        if c["check"] == "ordered/validated:rows_show_no_time_order"
    ]
    assert warning["severity"] == "WARN"
    assert "the share of target `1` moves along the row order" in warning["description"]
    assert "set `time: {order: rows}`" in warning["description"]


def test_a_date_column_and_an_hour_column_make_the_event_time(platform):
    rng = np.random.default_rng(5)
    days = 28
    n = days * 48
    day = [f"2024-03-{1 + i // 48:02d}" for i in range(n)]
    hour = rng.integers(0, 24, n)
    load = rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-(load + np.where(hour >= 18, 1.0, -0.5))))).astype(
        int
    )
    path = platform.data / "grid.csv"
    pl.DataFrame({"day": day, "hour": hour, "load": load, "peak": label}).write_csv(path)
    platform.write_spec(
        {
            "name": "grid",
            "source": {"uri": str(path)},
            "target": {"column": "peak", "task": "binary"},
            "time": {
                "column": "day",
                "format": "%Y-%m-%d",
                "hour_column": "hour",
                "start": "2024-03-01",
                "end": "2024-03-29",
            },
            "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
        }
    )
    summary = platform.run("grid")
    assert summary["success"], summary
    assert summary["rows_ingested"] == n
    raw = pl.read_delta(str(platform.home / "tables" / "grid" / "raw"))
    assert raw.height == n
    assert (raw["_event_time"].dt.hour() == raw["hour"].cast(pl.Int8)).all()
    features = pl.read_delta(str(platform.home / "tables" / "grid" / "features"))
    assert {"t_hour", "t_day_of_week"} <= set(features.columns)
    assert "t_month" not in features.columns  # four weeks cover no year twice
