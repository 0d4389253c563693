"""The bootstrap sensor asks for the whole graph once, and never again once it has run."""

from __future__ import annotations

import dagster as dg

from mlops_assets.assets.naming import SpecAssets
from mlops_assets.pipeline import build_spec_assets, materialized_on_bootstrap
from mlops_assets.specs import DatasetSpec
from sensors.bootstrap import PARTITION_RANGE_END, PARTITION_RANGE_START, build_bootstrap_sensor
from tests.conftest import PIPELINE_ASSET_NAMES, flights_slice_spec


def _sensor(spec: DatasetSpec) -> tuple[dg.SensorDefinition, SpecAssets]:
    names = SpecAssets(spec)
    keys = materialized_on_bootstrap(spec, build_spec_assets(spec))
    sensor = build_bootstrap_sensor(
        spec.name, spec.fingerprint(), keys, names.evaluation, names.partitions_def
    )
    return sensor, names


def test_requests_every_partition_in_one_run_with_a_stable_run_key():
    spec = DatasetSpec.model_validate(flights_slice_spec())
    sensor, _ = _sensor(spec)
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance))
        second = sensor(dg.build_sensor_context(instance=instance))
    [request] = first.run_requests
    # Daily windows, monthly partitions (the default): three weeks of January are one partition.
    assert request.tags[PARTITION_RANGE_START] == "2013-01-01"
    assert request.tags[PARTITION_RANGE_END] == "2013-01-01"
    assert request.tags["mlops/trigger"] == "bootstrap"
    assert {key.path[-1] for key in request.asset_selection} == PIPELINE_ASSET_NAMES
    assert (
        request.run_key
        == second.run_requests[0].run_key
        == f"bootstrap-flights_slice-{spec.fingerprint()}"
    )


def test_skips_once_the_evaluation_exists():
    spec = DatasetSpec.model_validate(flights_slice_spec())
    sensor, names = _sensor(spec)
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=names.evaluation))
        result = sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason)


def test_a_spec_edit_changes_the_run_key():
    edited = flights_slice_spec()
    edited["training"]["seed"] = 7
    before = DatasetSpec.model_validate(flights_slice_spec())
    after = DatasetSpec.model_validate(edited)
    with dg.instance_for_test() as instance:
        keys = {
            _sensor(spec)[0](dg.build_sensor_context(instance=instance)).run_requests[0].run_key
            for spec in (before, after)
        }
    assert len(keys) == 2


def _bootstrap_run(instance: dg.DagsterInstance, spec: DatasetSpec, status: dg.DagsterRunStatus):
    from sensors.bootstrap import FINGERPRINT_TAG

    run = instance.create_run_for_job(
        job_def=dg.define_asset_job("bootstrap_like").resolve(
            asset_graph=dg.Definitions(assets=[dg.AssetSpec("x")]).resolve_asset_graph()
        ),
        tags={
            "mlops/spec": spec.name,
            "mlops/trigger": "bootstrap",
            FINGERPRINT_TAG: spec.fingerprint(),
        },
    )
    if status == dg.DagsterRunStatus.FAILURE:
        instance.report_run_failed(
            run, "Run timed out due to taking longer than 180 seconds to start."
        )
    else:
        instance.handle_run_event(
            run.run_id,
            dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name
            ),
        )
    return run


def test_a_failed_bootstrap_is_tried_again_then_given_up_with_the_reason():
    spec = DatasetSpec.model_validate(flights_slice_spec())
    sensor, _ = _sensor(spec)
    with dg.instance_for_test() as instance:
        _bootstrap_run(instance, spec, dg.DagsterRunStatus.FAILURE)
        [again] = sensor(dg.build_sensor_context(instance=instance)).run_requests
        assert again.run_key.endswith("-attempt-2")
        assert again.tags["mlops/bootstrap_attempt"] == "2"
        going = _bootstrap_run(instance, spec, dg.DagsterRunStatus.STARTED)
        waiting = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(waiting, dg.SkipReason) and going.run_id in waiting.skip_message
        instance.report_run_failed(going, "killed")
        _bootstrap_run(instance, spec, dg.DagsterRunStatus.FAILURE)
        given_up = sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(given_up, dg.SkipReason)
    assert "failed 3 times" in given_up.skip_message
    assert "taking longer than 180 seconds to start" in given_up.skip_message
