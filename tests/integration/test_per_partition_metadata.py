"""A run over many partitions gives each partition its own figures, so the UI plots real series.

Dagster stamps an output's metadata on every partition a run materializes; a backfill
run over three weeks would draw the newest window's realized metric as a flat line.
The drift asset adds each partition's own latest-window figures on top.
"""

from __future__ import annotations

import math

import dagster as dg
import polars as pl
import pytest

from mlops_assets.assets.metadata import significant
from tests.conftest import flights_slice_spec

pytestmark = pytest.mark.slow


def test_a_ranged_run_records_each_daily_partitions_own_drift_and_prediction_figures(platform):
    spec = flights_slice_spec()
    spec["name"] = "flights_days"
    spec["time"]["partitions"] = "daily"
    platform.write_spec(spec)
    summary = platform.run("flights_days")
    assert summary["success"], summary
    instance = platform.instance()
    drift = dg.AssetKey(["flights_days", "drift"])
    table = pl.read_delta(str(platform.home / "tables" / "flights_days" / "drift"))
    measured = (
        table.filter(pl.col("status") == "measured")
        .group_by("_partition")
        .agg(pl.col("realized_metric").sort_by("window_start").last())
    )
    expected = {
        row["_partition"].isoformat(): row["realized_metric"]
        for row in measured.iter_rows(named=True)
    }
    assert len(expected) >= 3, f"too few monitored days to draw a series: {expected}"
    keys = sorted(table["_partition"].unique().cast(pl.String).to_list())
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=drift, asset_partitions=keys), limit=len(keys)
    ).records
    shown = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(shown) == set(keys)
    for key in keys:
        realized = shown[key]["realized_roc_auc"].value
        if key in expected:
            assert realized == significant(expected[key]), key
            assert shown[key]["windows_monitored"].value == 1
        else:  # trained on: nothing to plot, not the run's figure again
            assert math.isnan(realized), (key, realized)
            assert shown[key]["windows_monitored"].value == 0
    plotted = [shown[k]["realized_roc_auc"].value for k in expected]
    assert len(set(plotted)) > 1, f"one value stamped on every partition: {plotted}"

    predictions = dg.AssetKey(["flights_days", "predictions"])
    scored = pl.read_delta(str(platform.home / "tables" / "flights_days" / "predictions"))
    means = {
        row["_partition"].isoformat(): (row["mean"], row["rows"])
        for row in scored.group_by("_partition")
        .agg(pl.col("prediction").mean().alias("mean"), pl.len().alias("rows"))
        .iter_rows(named=True)
    }
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=predictions, asset_partitions=list(means)),
        limit=len(means),
    ).records
    shown = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert set(shown) == set(means)
    for key, (mean, rows) in means.items():
        assert shown[key]["partition_rows"].value == rows, key
        assert shown[key]["prediction_mean"].value == significant(mean), key
    assert len({shown[k]["prediction_mean"].value for k in means}) > 1
