"""The executor is chosen by environment: in-process by default, a pod per step on Kubernetes."""

import dagster as dg
import pytest

from mlops_assets.execution import executor_from_environment
from tests.conftest import churn_spec


def resolved_config(executor: dg.ExecutorDefinition) -> dict:
    result = executor.config_schema.resolve_config({})
    assert result.success, result.errors
    return result.value["config"]


def test_in_process_is_the_default() -> None:
    assert executor_from_environment({}) is dg.in_process_executor
    assert executor_from_environment({"MLOPS_EXECUTOR": "in_process"}) is dg.in_process_executor


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="MLOPS_EXECUTOR='celery'"):
        executor_from_environment({"MLOPS_EXECUTOR": "celery"})


def test_k8s_executor_is_configured_from_environment() -> None:
    executor = executor_from_environment(
        {
            "MLOPS_EXECUTOR": "k8s",
            "MLOPS_K8S_ENV_SECRETS": "mlops-secrets, mlflow-s3",
            "MLOPS_K8S_ENV_CONFIG_MAPS": "mlops-settings",
            "MLOPS_K8S_MAX_CONCURRENT_STEPS": "8",
            "MLOPS_K8S_JOB_NAMESPACE": "mlops",
        }
    )
    config = resolved_config(executor)
    assert executor.name == "k8s"
    assert config["env_secrets"] == ["mlops-secrets", "mlflow-s3"]
    assert config["env_config_maps"] == ["mlops-settings"]
    assert config["max_concurrent"] == 8
    assert config["job_namespace"] == "mlops"


def test_k8s_executor_defaults() -> None:
    config = resolved_config(executor_from_environment({"MLOPS_EXECUTOR": "k8s"}))
    assert config["env_secrets"] == ["mlops-secrets"]
    assert config["max_concurrent"] == 4
    assert "job_namespace" not in config


def test_definitions_use_the_k8s_executor_when_asked(
    platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.write_spec(churn_spec(platform.data / "customers.csv", rows=200))
    monkeypatch.setenv("MLOPS_EXECUTOR", "k8s")
    from mlops_assets.definitions import build_definitions

    defs = build_definitions()
    jobs = list(defs.resolve_all_job_defs())
    assert {job.name for job in jobs} >= {"__ASSET_JOB", "churn_retraining"}
    assert {job.executor_def.name for job in jobs} == {"k8s"}
    assert resolved_config(jobs[0].executor_def)["env_secrets"] == ["mlops-secrets"]

    monkeypatch.delenv("MLOPS_EXECUTOR")
    assert build_definitions().resolve_implicit_global_asset_job_def().executor_def.name == (
        "in_process"
    )
