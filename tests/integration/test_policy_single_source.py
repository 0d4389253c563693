"""One retraining policy: the backtest decides exactly as the drift asset and the drift sensor do.

The champion is trained by the platform on the first 20 days; the next 40 days
(a regime change on day 30) are then scored and monitored by the real drift
asset in one single-run backfill, and the real sensor ticks on what it recorded.
The backtest, started from the same 20 days, must reach the same decision on
every window up to its first retraining, and that retraining must be on the
window the sensor acts on.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from mlops_assets.backtest.replay import BacktestSettings, replay_policy
from mlops_assets.drift import DriftSettings
from tests.integration.test_policy_backtest import regime_change_table, spec_dict

pytestmark = pytest.mark.slow
WARMUP_END = "2024-01-21"
MONITORED = ["raw", "validated", "rejected_rows", "features", "predictions", "drift"]


def _score_and_monitor(platform, first: str, last: str) -> dg.ExecuteInProcessResult:
    from mlops_assets.definitions import build_resources
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.specs import find_spec
    from sensors.bootstrap import PARTITION_RANGE_END, PARTITION_RANGE_START

    return dg.materialize(
        build_spec_assets(find_spec("demand")),
        selection=[dg.AssetKey(["demand", name]) for name in MONITORED],
        instance=platform.instance(),
        resources=build_resources(),
        tags={PARTITION_RANGE_START: first, PARTITION_RANGE_END: last, "mlops/spec": "demand"},
    )


def test_backtest_drift_asset_and_sensor_make_the_same_decisions(platform):
    path = platform.data / "demand.csv"
    regime_change_table().write_csv(path)
    platform.write_spec(spec_dict(path, end=WARMUP_END))
    first = platform.run("demand")
    assert first["success"] and first["champion_version"] == 1, first

    spec = spec_dict(path)
    platform.write_spec(spec)
    # Monthly partitions (daily windows): January again (its first 20 days unchanged) and February.
    assert _score_and_monitor(platform, "2024-01-01", "2024-02-01").success

    tables = platform.home / "tables" / "demand"
    production = (
        pl.read_delta(str(tables / "drift"))
        .filter(pl.col("window_start") >= pl.datetime(2024, 1, 21))
        .unique("window_start")
        .sort("window_start")
        .select(
            pl.col("window_start").dt.date().alias("partition"),
            "decision",
            "signal",
            "drift_share",
            "realized_metric",
            "champion_version",
        )
    )
    assert production.height == 40
    assert production["champion_version"].unique().to_list() == ["1"]

    from mlops_assets.specs import find_spec

    loaded = find_spec("demand")
    features = pl.read_delta(str(tables / "features"))
    backtest = replay_policy(
        loaded,
        features,
        "drift",
        DriftSettings.from_spec(loaded),
        BacktestSettings(warmup_partitions=20),
    )
    first_retrain = backtest.filter(pl.col("retrained"))["partition"][0]
    replayed = backtest.filter(pl.col("partition") <= first_retrain).select(
        "partition", "decision", "signal", "drift_share", "metric"
    )
    same_windows = production.filter(pl.col("partition") <= first_retrain)
    assert replayed["partition"].to_list() == same_windows["partition"].to_list()
    assert replayed["decision"].to_list() == same_windows["decision"].to_list()
    assert replayed["signal"].to_list() == same_windows["signal"].to_list()
    assert replayed["drift_share"].to_list() == pytest.approx(same_windows["drift_share"].to_list())
    assert replayed["metric"].to_list() == pytest.approx(same_windows["realized_metric"].to_list())

    from mlops_assets.definitions import build_definitions

    sensor = build_definitions().resolve_sensor_def("demand_drift_retraining")
    result = sensor(dg.build_sensor_context(instance=platform.instance()))
    [request] = result.run_requests
    windows = request.tags["mlops/drift_windows"].split(",")
    assert windows[0] == first_retrain.isoformat()
    signalled = production.filter(pl.col("decision") == "retrain")["partition"]
    assert [w.isoformat() for w in signalled] == windows
    assert request.run_key == f"drift-demand-{windows[-1]}"
