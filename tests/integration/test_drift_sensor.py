"""The drift sensor acts on every retrain signal the drift asset recorded, once, and only while due."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from mlops_assets.assets.drift import signals_table
from sensors.drift_retraining import build_drift_retraining_sensor, recorded_signals
from sensors.retraining import build_retraining_job

DRIFT = dg.AssetKey(["shop", "drift"])
TRAINING_SET = dg.AssetKey(["shop", "training_set"])


def _sensor() -> dg.SensorDefinition:
    job = build_retraining_job("shop", [dg.AssetKey(["shop", "model"])])
    return build_drift_retraining_sensor(
        "shop", DRIFT, TRAINING_SET, job, dg.DefaultSensorStatus.RUNNING
    )


def _signal(window: str, kind: str = "drift", features=("price", "region")) -> dict:
    end = dt.date.fromisoformat(window) + dt.timedelta(days=1)
    return {
        "window": window,
        "window_end": dt.datetime.combine(end, dt.time()).isoformat(),
        "signal": kind,
        "reason": f"{kind}: test",
        "drifted_features": list(features),
    }


def _drift(instance: dg.DagsterInstance, partition: str, signals: list[dict]) -> None:
    """One drift materialization, as the asset records it (its signals in the metadata)."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=DRIFT,
            partition=partition,
            metadata={"retrain_signal": bool(signals), "retrain_signals": signals_table(signals)},
        )
    )


def _trained_through(instance: dg.DagsterInstance, moment: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=TRAINING_SET, metadata={"data_through": moment})
    )


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_nothing_to_do_before_any_drift(instance):
    assert isinstance(_tick(_sensor(), instance, None), dg.SkipReason)


def test_one_signal_requests_exactly_one_run_across_ticks(instance):
    sensor = _sensor()
    _drift(instance, "2024-03-01", [_signal("2024-03-01")])
    first = _tick(sensor, instance, None)
    [request] = first.run_requests
    assert request.run_key == "drift-shop-2024-03-01"
    assert request.tags["mlops/trigger"] == "drift"
    assert request.tags["mlops/drift_signal"] == "drift"
    assert request.tags["mlops/drift_features"] == "price,region"
    again = _tick(sensor, instance, first.cursor)
    assert isinstance(again, dg.SkipReason)
    restarted = _tick(sensor, instance, None)
    assert restarted.run_requests[0].run_key == request.run_key


def test_a_signal_followed_by_a_calm_window_is_still_acted_on(instance):
    """A single-run backfill stores every window at once; the newest one is calm."""
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        signals = [_signal("2024-03-02", "performance")]  # a ranged run stamps every partition
        _drift(instance, day, signals)
    _drift(instance, "2024-03-04", [])
    result = _tick(_sensor(), instance, None)
    [request] = result.run_requests
    assert request.run_key == "drift-shop-2024-03-02"
    assert request.tags["mlops/drift_signal"] == "performance"
    assert json.loads(result.cursor)["after_storage_id"] > 0


def test_two_episodes_since_the_cursor_give_one_run_covering_both(instance):
    _drift(instance, "2024-03-01", [_signal("2024-03-01")])
    _drift(instance, "2024-03-09", [_signal("2024-03-09", "hard_drift")])
    [request] = _tick(_sensor(), instance, None).run_requests
    assert request.run_key == "drift-shop-2024-03-09"
    assert request.tags["mlops/drift_windows"] == "2024-03-01,2024-03-09"


def test_a_signal_the_newest_training_already_covers_is_dropped(instance):
    sensor = _sensor()
    _drift(instance, "2024-03-01", [_signal("2024-03-01")])
    _trained_through(instance, "2024-03-05T00:00:00")
    result = _tick(sensor, instance, None)
    assert not result.run_requests
    assert "no retrain signal still due" in result.skip_reason.skip_message
    _drift(instance, "2024-03-07", [_signal("2024-03-07")])
    [request] = _tick(sensor, instance, result.cursor).run_requests
    assert request.run_key == "drift-shop-2024-03-07"


def test_a_window_without_signal_moves_the_cursor_and_asks_nothing(instance):
    _drift(instance, "2024-03-01", [])
    result = _tick(_sensor(), instance, None)
    assert not result.run_requests
    assert json.loads(result.cursor)["after_storage_id"] > 0


def test_signals_recorded_as_json_by_older_materializations_are_still_read(instance):
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=DRIFT,
            partition="2024-01-03",
            metadata={"retrain_signal": True, "retrain_signals": [_signal("2024-01-03")]},
        )
    )
    record = instance.fetch_materializations(DRIFT, limit=1).records[0]
    [signal] = recorded_signals(record)
    assert signal.window == "2024-01-03" and signal.drifted_features == ("price", "region")
