"""Backtesting retraining policies on a history with a regime change halfway through.

The backtest replays the production rules (split, policy, gate), so what it
reports is what the platform would have done; `test_policy_single_source.py`
holds its decisions equal to the drift asset's and the sensor's.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest

from mlops_assets.assets.metadata import table_rows
from mlops_assets.backtest.replay import BacktestSettings, replay_policy, summarize
from mlops_assets.drift import DriftSettings
from mlops_assets.specs import DatasetSpec

pytestmark = pytest.mark.slow
DAYS, PER_DAY, SHIFT_DAY = 60, 500, 30


def regime_change_table(seed: int = 1, days: int = DAYS) -> pl.DataFrame:
    """Demand that follows price until day 30, then a new market where the relation flips."""
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    rows = []
    for day in range(days):
        shifted = day >= SHIFT_DAY
        price = rng.normal(3.0 if shifted else 0.0, 1.0, PER_DAY)
        noise = rng.normal(0, 0.5, PER_DAY)
        bought = ((-price if shifted else price) + noise > (-3.0 if shifted else 0.0)).astype(int)
        for p, b in zip(price, bought, strict=True):
            rows.append((start + dt.timedelta(days=day), float(p), int(b)))
    return pl.DataFrame(rows, schema=["day", "price", "bought"], orient="row")


def spec_dict(path, end: str = "2024-03-01") -> dict:
    return {
        "name": "demand",
        "source": {"uri": str(path)},
        "target": {"column": "bought", "task": "binary"},
        "time": {"column": "day", "grain": "daily", "start": "2024-01-01", "end": end},
        "features": {"time_parts": []},
        "training": {"num_boost_round": 60, "early_stopping_rounds": 10},
        "retraining": {"drifted_partitions_in_a_row": 2, "cooldown_hours": 48},
    }


def demand_features(path) -> tuple[DatasetSpec, pl.DataFrame]:
    from mlops_assets.features.build import build_features
    from mlops_assets.ingest.raw_batch import read_raw_batch
    from mlops_assets.validation.rules import validate_batch

    spec = DatasetSpec.model_validate(spec_dict(path))
    batch = read_raw_batch(spec, None, None)
    return spec, build_features(spec, validate_batch(spec, batch.frame).valid).frame


def test_drift_policy_retrains_after_the_shift_and_recovers_through_the_gate(platform):
    path = platform.data / "demand.csv"
    regime_change_table().write_csv(path)
    spec, features = demand_features(path)
    settings = BacktestSettings(warmup_partitions=20, schedule_every=10)
    results = pl.concat(
        [
            replay_policy(spec, features, p, DriftSettings.from_spec(spec), settings)
            for p in ("never", "scheduled", "drift")
        ]
    )
    summary = {row["policy"]: row for row in summarize(results).iter_rows(named=True)}
    assert summary["never"]["retrains"] == 0
    assert summary["scheduled"]["retrains"] == 4  # every 10th replayed window
    drift = results.filter(pl.col("policy") == "drift")
    retrains = drift.filter(pl.col("retrained"))
    assert retrains["partition"][0] == dt.date(2024, 1, 31)  # the first shifted day
    assert retrains["reason"][0].startswith("drift: share 1.00 >= 0.8")
    assert retrains["reason"][0].endswith("(price)")
    # The production gate turns down challengers that have not yet learnt the new market
    # (its first days are their test split) and promotes the first one that has.
    promoted = drift.filter(pl.col("promoted"))
    assert promoted.height >= 1
    rejected = retrains.filter(~pl.col("promoted"))
    assert all("challenger_not_worse_than_champion" in g for g in rejected["gate"])
    after = drift.filter(pl.col("partition") > promoted["partition"][0])
    assert after["metric"].mean() > 0.9
    never_after = results.filter(
        (pl.col("policy") == "never") & (pl.col("partition") > promoted["partition"][0])
    )
    assert never_after["metric"].mean() < 0.6
    assert summary["drift"]["mean_metric"] > summary["never"]["mean_metric"] + 0.1
    assert summary["drift"]["compute_seconds"] > summary["never"]["compute_seconds"]
    # Windows are measured on rows the model of the day never saw, against its own test windows.
    assert drift["expected_metric"].min() > 0.85


def test_backtest_command_materializes_the_report_asset(platform):
    path = platform.data / "demand.csv"
    regime_change_table().write_csv(path)
    platform.write_spec(spec_dict(path))
    summary = platform.run("demand")
    assert summary["success"], summary
    from mlops_assets.cli import backtest

    report = backtest("demand", ["never", "drift"], 20, 10)
    assert "| drift |" in report["summary"] and "| never |" in report["summary"]
    event = platform.instance().get_latest_materialization_event(
        dg.AssetKey(["demand", "policy_backtest"])
    )
    metadata = event.asset_materialization.metadata
    assert "/get-artifact?path=policy_backtest.png" in metadata["figure_metric_by_policy"].value
    assert [row["policy"] for row in table_rows(metadata["summary"])] == ["never", "drift"]
    assert metadata["drift_retrains"].value >= 1 and metadata["never_retrains"].value == 0
    assert metadata["drift_mean_roc_auc"].value > metadata["never_mean_roc_auc"].value
