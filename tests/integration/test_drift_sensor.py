"""The drift sensor turns each new retrain signal into exactly one run, honouring the cooldown."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from sensors.drift_retraining import build_drift_retraining_sensor
from sensors.retraining import build_retraining_job

DRIFT = dg.AssetKey(["shop", "drift"])


def _sensor(cooldown_hours: float = 72) -> dg.SensorDefinition:
    job = build_retraining_job("shop", [dg.AssetKey(["shop", "model"])])
    return build_drift_retraining_sensor(
        "shop", DRIFT, job, cooldown_hours, dg.DefaultSensorStatus.RUNNING
    )


def _drift(
    instance: dg.DagsterInstance, window: str, signal: bool, features=("price", "region")
) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=DRIFT,
            partition=window,
            metadata={
                "retrain_signal": signal,
                "drift_share": 0.9 if signal else 0.1,
                "drifted_features": list(features),
            },
        )
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
    _drift(instance, "2024-03-01", signal=True)
    first = _tick(sensor, instance, None)
    [request] = first.run_requests
    assert request.run_key == "drift-shop-2024-03-01"
    assert request.tags["mlops/trigger"] == "drift"
    assert request.tags["mlops/drift_features"] == "price,region"
    assert json.loads(first.cursor)["last_window"] == "2024-03-01"
    again = _tick(sensor, instance, first.cursor)
    assert isinstance(again, dg.SkipReason) or not again.run_requests
    restarted = _tick(sensor, instance, None)
    assert restarted.run_requests[0].run_key == request.run_key


def test_a_window_without_signal_is_noted_and_skipped(instance):
    _drift(instance, "2024-03-01", signal=False)
    result = _tick(_sensor(), instance, None)
    assert not result.run_requests
    assert json.loads(result.cursor)["last_window"] == "2024-03-01"


def test_a_new_signal_within_the_cooldown_is_not_acted_on(instance):
    sensor = _sensor(cooldown_hours=72)
    _drift(instance, "2024-03-01", signal=True)
    first = _tick(sensor, instance, None)
    _drift(instance, "2024-03-02", signal=True)
    second = _tick(sensor, instance, first.cursor)
    assert not second.run_requests
    assert "cooldown" in second.skip_reason.skip_message
    assert (
        json.loads(second.cursor)["last_trigger_at"] == json.loads(first.cursor)["last_trigger_at"]
    )


def test_after_the_cooldown_a_new_signal_retrains_again(instance):
    sensor = _sensor(cooldown_hours=0)
    _drift(instance, "2024-03-01", signal=True)
    first = _tick(sensor, instance, None)
    _drift(instance, "2024-03-02", signal=True)
    second = _tick(sensor, instance, first.cursor)
    assert second.run_requests[0].run_key == "drift-shop-2024-03-02"
