"""The metadata convention of docs/metadata.md, asserted on a real materialization of a small spec."""

from __future__ import annotations

import json
import math
import shutil

import dagster as dg
import mlflow
import polars as pl
import pytest
from deltalake import DeltaTable

from mlops_assets.assets.drift import SIGNAL_COLUMNS
from mlops_assets.assets.metadata import COLUMN_SCHEMA, ROW_COUNT
from mlops_assets.assets.naming import DELTA_IO_MANAGER
from mlops_assets.pipeline import ON_DEMAND_ASSETS, build_spec_assets
from mlops_assets.specs import DatasetSpec
from sensors.drift_retraining import recorded_signals
from tests.conftest import ROOT, Platform, churn_spec

MLFLOW_UI = "http://127.0.0.1:5000"
DESCRIPTIONS = {
    "plan": "Subscription plan the customer is on",
    "tenure_months": "Whole months since the customer signed up",
    "monthly_spend": "Average monthly bill in euros",
}


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory):
    """One small spec materialized end to end; module-scoped so every assertion shares it."""
    root = tmp_path_factory.mktemp("metadata")
    platform = Platform(root / "home", root / "specs", root / "data")
    for folder in (platform.home, platform.specs, platform.data):
        folder.mkdir()
    shutil.copy(ROOT / "dagster.yaml", platform.home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(platform.home))
        env.setenv("MLOPS_BUILTIN_SPECS", "0")
        env.setenv("MLOPS_SPECS_PATH", str(platform.specs))
        env.setenv("MLFLOW_UI_URL", MLFLOW_UI)
        env.delenv("MLFLOW_TRACKING_URI", raising=False)
        env.delenv("MLOPS_DATA_ROOT", raising=False)
        raw = churn_spec(platform.data / "customers.csv", rows=600)
        raw["owner"] = "churn-team@example.com"
        raw["columns"] = {name: {"description": text} for name, text in DESCRIPTIONS.items()}
        raw["training"] = {"num_boost_round": 30, "early_stopping_rounds": 5}
        raw.setdefault("quality", {})["slice_column"] = "plan"
        platform.write_spec(raw)
        summary = platform.run("churn")
        assert summary["success"], summary
        yield platform, DatasetSpec.model_validate(raw)


def _table_keys(spec: DatasetSpec) -> list[dg.AssetKey]:
    """Every asset of the spec stored as a Delta table, read from the definitions themselves."""
    return [
        key
        for assets in build_spec_assets(spec)
        if isinstance(assets, dg.AssetsDefinition)
        for key in assets.keys
        if assets.get_io_manager_key_for_asset_key(key) == DELTA_IO_MANAGER
    ]


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.AssetMaterialization:
    event = instance.get_latest_materialization_event(key)
    assert event is not None, f"{key.to_user_string()} was never materialized"
    return event.asset_materialization


def test_every_table_asset_carries_row_count_schema_and_versions(churn_run):
    platform, spec = churn_run
    instance = platform.instance()
    keys = _table_keys(spec)
    assert {k.path[-1] for k in keys} >= {"raw", "validated", "rejected_rows", "features"}
    for key in keys:
        if key.path[-1] in ON_DEMAND_ASSETS:  # `mlops backtest`, online traffic (tests/online)
            continue
        name = key.to_user_string()
        materialization = _latest(instance, key)
        metadata = materialization.metadata
        uri = str(platform.home / "tables" / spec.name / key.path[-1])
        assert metadata["delta_version"].value == DeltaTable(uri).version(), name
        stored = pl.read_delta(uri, version=metadata["delta_version"].value)
        assert metadata[ROW_COUNT].value == stored.height, name
        schema = {c.name: c for c in metadata[COLUMN_SCHEMA].value.columns}
        assert list(schema) == stored.columns, name
        for column, text in DESCRIPTIONS.items():
            if column in schema:
                assert schema[column].description == text, (name, column)
        assert materialization.tags["dagster/data_version_is_user_provided"] == "true", name
        assert len(materialization.tags["dagster/data_version"]) >= 16, name


def test_described_columns_keep_their_description_from_raw_to_features(churn_run):
    platform, _ = churn_run
    instance = platform.instance()
    for asset in ("raw", "validated", "features"):
        schema = _latest(instance, dg.AssetKey(["churn", asset])).metadata[COLUMN_SCHEMA].value
        described = {c.name: c.description for c in schema.columns if c.name in DESCRIPTIONS}
        assert described == DESCRIPTIONS, asset


def test_every_column_the_platform_writes_is_described(churn_run):
    platform, _ = churn_run
    instance = platform.instance()
    for asset in ("predictions", "drift"):
        schema = _latest(instance, dg.AssetKey(["churn", asset])).metadata[COLUMN_SCHEMA].value
        undescribed = [c.name for c in schema.columns if not c.description]
        assert not undescribed, f"churn/{asset}: columns without a description: {undescribed}"


def test_the_model_links_its_mlflow_run_and_registered_version(churn_run):
    platform, spec = churn_run
    instance = platform.instance()
    metadata = _latest(instance, dg.AssetKey(["churn", "model"])).metadata
    client = mlflow.MlflowClient()
    version = client.get_model_version(spec.model_name, str(metadata["model_version"].value))
    run = client.get_run(version.run_id)
    run_url = f"{MLFLOW_UI}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    assert isinstance(metadata["mlflow_run"], dg.UrlMetadataValue)
    assert metadata["mlflow_run"].value == run_url
    assert metadata["mlflow_model_version"].value == (
        f"{MLFLOW_UI}/#/models/{spec.model_name}/versions/{version.version}"
    )
    evaluation = _latest(instance, dg.AssetKey(["churn", "evaluation"])).metadata
    assert evaluation["mlflow_run"].value == run_url
    assert evaluation["model_version"].value == int(version.version)


def test_every_asset_is_owned_by_the_spec_owner(churn_run):
    _, spec = churn_run
    for assets in build_spec_assets(spec):
        if isinstance(assets, dg.AssetsDefinition):
            for key, asset_spec in assets.specs_by_key.items():
                assert list(asset_spec.owners) == ["churn-team@example.com"], key


# --- Numbers and tables built for reading (docs/metadata.md, "Numbers an analyst reads") ---

MAX_SIGNIFICANT_DIGITS = 4
MAX_JSON_LINES = 5
REPORT_TABLES = {
    "features": ["lineage"],
    "training_set": ["splits"],
    "model": ["lightgbm_params"],
    "evaluation": ["calibration", "slices", "feature_importance"],
    "promotion": ["evidence"],
    "predictions": ["prediction_histogram"],
    "drift": ["feature_drift"],
}
DOCUMENTS = {"model_card"}  # the card is a markdown document by design (docs/governance.md)


def significant_digits(value: float) -> int:
    """Digits a reader sees in the shortest repr: 0.8123 -> 4, 123500.0 -> 4, 1.5e-05 -> 2."""
    mantissa = repr(abs(value)).split("e")[0].replace(".", "")
    return len(mantissa.strip("0")) or 1


def decimals(value: float) -> int:
    text = repr(abs(value))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1].rstrip("0"))


def readable(key: str, value: float) -> bool:
    """Floats carry at most 4 significant digits; a latency in ms (`_ms`) may keep 1 decimal."""
    if not math.isfinite(value):
        return True
    if key.endswith("_ms") and decimals(value) <= 1:
        return True
    return significant_digits(value) <= MAX_SIGNIFICANT_DIGITS


def _materialized(platform: Platform, spec: DatasetSpec):
    instance = platform.instance()
    for assets in build_spec_assets(spec):
        if not isinstance(assets, dg.AssetsDefinition):
            continue
        for key in assets.keys:
            event = instance.get_latest_materialization_event(key)
            if event is None:
                assert key.path[-1] in ON_DEMAND_ASSETS, (
                    f"{key.to_user_string()} never materialized"
                )
                continue
            yield key.path[-1], event.asset_materialization.metadata


def test_the_digit_rule_is_the_documented_one():
    assert [significant_digits(v) for v in (0.8123, 123500.0, 1.5e-05, 0.0, 12.0)] == [
        4,
        4,
        2,
        1,
        2,
    ]
    assert readable("latency_p50_ms", 1234.5) and not readable("latency_p50_ms", 12.345)
    assert not readable("test_roc_auc", 0.8123456789012345)


def test_no_float_in_any_asset_metadata_carries_noise_digits(churn_run):
    platform, spec = churn_run
    seen = 0
    for asset, metadata in _materialized(platform, spec):
        for key, entry in metadata.items():
            if isinstance(entry, dg.FloatMetadataValue):
                seen += 1
                assert readable(key, entry.value), f"{asset}/{key} = {entry.value!r}"
            if isinstance(entry, dg.TableMetadataValue):
                for record in entry.records:
                    for column, cell in record.data.items():
                        if isinstance(cell, float):
                            assert readable(column, cell), f"{asset}/{key}.{column} = {cell!r}"
    assert seen >= 20, "too few floats: did the run materialize the whole spec?"


def test_reports_are_dagster_tables_with_a_described_schema(churn_run):
    platform, spec = churn_run
    by_asset = dict(_materialized(platform, spec))
    for asset, keys in REPORT_TABLES.items():
        for key in keys:
            entry = by_asset[asset][key]
            assert isinstance(entry, dg.TableMetadataValue), f"{asset}/{key}: {type(entry)}"
            assert entry.records, f"{asset}/{key} has no rows"
    for asset, metadata in by_asset.items():
        for key, entry in metadata.items():
            if isinstance(entry, dg.TableMetadataValue):
                columns = entry.schema.columns
                assert columns, f"{asset}/{key}: table without a schema"
                undescribed = [c.name for c in columns if not c.description]
                assert not undescribed, (
                    f"{asset}/{key}: columns without a description {undescribed}"
                )
                names = [c.name for c in columns]
                for record in entry.records:
                    assert set(record.data) <= set(names), f"{asset}/{key}: cell outside the schema"


def test_no_json_blob_or_markdown_table_in_the_main_view(churn_run):
    platform, spec = churn_run
    for asset, metadata in _materialized(platform, spec):
        for key, entry in metadata.items():
            if isinstance(entry, dg.JsonMetadataValue):
                lines = json.dumps(entry.value, indent=2).count("\n") + 1
                assert lines <= MAX_JSON_LINES, f"{asset}/{key} renders as {lines} lines of JSON"
            if isinstance(entry, dg.MarkdownMetadataValue) and asset not in DOCUMENTS:
                assert "|---" not in entry.value.replace(" ", ""), f"{asset}/{key}: markdown table"


def test_each_evaluation_figure_is_reported_once(churn_run):
    platform, _ = churn_run
    metadata = _latest(platform.instance(), dg.AssetKey(["churn", "evaluation"])).metadata
    assert "metrics_vs_baseline" not in metadata  # the test_/baseline_ floats are the figures
    assert "monitoring_expects" not in metadata  # test_window_metric_mean/std, test_windows
    assert isinstance(metadata["test_windows"], dg.IntMetadataValue)
    slices = metadata["slices"]
    assert [c.name for c in slices.schema.columns][:2] == ["slice", "rows"]


def test_the_drift_sensor_reads_back_the_signals_table(churn_run):
    platform, _ = churn_run
    instance = platform.instance()
    metadata = _latest(instance, dg.AssetKey(["churn", "drift"])).metadata
    signals = metadata["retrain_signals"]
    assert isinstance(signals, dg.TableMetadataValue)
    assert [c.name for c in signals.schema.columns] == list(SIGNAL_COLUMNS)
    record = instance.fetch_materializations(dg.AssetKey(["churn", "drift"]), limit=1).records[0]
    assert len(recorded_signals(record)) == len(signals.records)
