"""The production storage block on a real PostgreSQL: runs, materializations, checks and models land there."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import psycopg2
import pytest
import yaml

from tests.conftest import ROOT, churn_spec, require_service

pytestmark = pytest.mark.slow
SERVER = os.environ.get("MLOPS_TEST_PG_URL")


@pytest.fixture
def databases():
    require_service(bool(SERVER), "PostgreSQL (MLOPS_TEST_PG_URL)")
    names = [f"mlops_test_{uuid.uuid4().hex[:10]}", f"mlflow_test_{uuid.uuid4().hex[:10]}"]
    admin = psycopg2.connect(SERVER)
    admin.autocommit = True
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f"CREATE DATABASE {name}")
    yield names
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def _query(database: str, sql: str) -> list[tuple]:
    url = urlparse(SERVER)
    with (
        psycopg2.connect(
            host=url.hostname,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=database,
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
        return cursor.fetchall()


def test_a_pipeline_run_is_stored_in_postgres_and_mlflow_uses_postgres(
    platform, databases, monkeypatch
):
    dagster_db, mlflow_db = databases
    url = urlparse(SERVER)
    production = yaml.safe_load((ROOT / "deploy" / "dagster.prod.yaml").read_text())
    instance_config = {
        key: production[key] for key in ("storage", "concurrency", "run_coordinator")
    }
    (platform.home / "dagster.yaml").write_text(yaml.safe_dump(instance_config))
    for key, value in {
        "DAGSTER_PG_USER": url.username,
        "DAGSTER_PG_PASSWORD": url.password,
        "DAGSTER_PG_HOST": url.hostname,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_DB": dagster_db,
        "MLFLOW_TRACKING_URI": f"postgresql+psycopg2://{url.username}:{url.password}@{url.hostname}:{url.port}/{mlflow_db}",
        "MLFLOW_ARTIFACT_ROOT": (platform.home / "mlflow-artifacts").as_uri(),
    }.items():
        monkeypatch.setenv(key, value)
    path = platform.data / "customers.csv"
    platform.write_spec(churn_spec(path, rows=600))
    instance = platform.instance()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    summary = platform.run("churn")
    assert summary["success"], summary

    [(run_id, status)] = _query(dagster_db, "SELECT run_id, status FROM runs")
    assert (run_id, status) == (summary["run_ids"][0], "SUCCESS")
    materialized = {
        row[0]
        for row in _query(
            dagster_db,
            "SELECT DISTINCT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
        )
    }
    assert '["churn", "model"]' in materialized and '["churn", "drift"]' in materialized
    checks = _query(dagster_db, "SELECT check_name, execution_status FROM asset_check_executions")
    assert ("rejected_share_within_limit", "SUCCEEDED") in checks
    assert ("challenger_not_worse_than_champion", "SUCCEEDED") in checks
    [(name, version)] = _query(mlflow_db, "SELECT name, version FROM model_versions")
    assert (name, version) == ("churn_model", 1)
    [(alias,)] = _query(mlflow_db, "SELECT alias FROM registered_model_aliases")
    assert alias == "champion"
