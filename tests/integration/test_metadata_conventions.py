"""The metadata convention of docs/metadata.md, asserted on a real materialization of a small spec."""

from __future__ import annotations

import shutil

import dagster as dg
import mlflow
import polars as pl
import pytest
from deltalake import DeltaTable

from mlops_assets.assets.metadata import COLUMN_SCHEMA, ROW_COUNT
from mlops_assets.assets.naming import DELTA_IO_MANAGER
from mlops_assets.pipeline import ON_DEMAND_ASSETS, build_spec_assets
from mlops_assets.specs import DatasetSpec
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
