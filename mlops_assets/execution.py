"""Where the steps of a run execute, chosen by the deployment's environment.

On one machine every step runs inside the run's own process: the graph of a
spec is mostly a chain, so a process per step would only add start-up time.
On Kubernetes (`MLOPS_EXECUTOR=k8s`) each step becomes its own pod, so the
scoring branch (predictions, drift) and the training branch of a run, and the
runs of a multi-run backfill, spread across the cluster's nodes.
"""

import os
from collections.abc import Mapping

import dagster as dg

EXECUTOR_VARIABLE = "MLOPS_EXECUTOR"
DEFAULT_STEP_SECRETS = "mlops-secrets"
DEFAULT_MAX_CONCURRENT_STEPS = 4


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def k8s_executor_config(env: Mapping[str, str]) -> dict:
    """k8s_job_executor config: step pods get the platform's Secret and ConfigMap as environment.

    - `MLOPS_K8S_ENV_SECRETS`: Secrets whose keys become environment variables of every
      step pod (default `mlops-secrets`; credentials never appear in run config);
    - `MLOPS_K8S_ENV_CONFIG_MAPS`: ConfigMaps likewise (default none);
    - `MLOPS_K8S_MAX_CONCURRENT_STEPS`: step pods of one run at once (default 4);
    - `MLOPS_K8S_JOB_NAMESPACE`: namespace of the step pods (default: the run's own).
    """
    config: dict = {
        "env_secrets": _names(env.get("MLOPS_K8S_ENV_SECRETS", DEFAULT_STEP_SECRETS)),
        "env_config_maps": _names(env.get("MLOPS_K8S_ENV_CONFIG_MAPS", "")),
        "max_concurrent": int(
            env.get("MLOPS_K8S_MAX_CONCURRENT_STEPS", DEFAULT_MAX_CONCURRENT_STEPS)
        ),
    }
    if env.get("MLOPS_K8S_JOB_NAMESPACE"):
        config["job_namespace"] = env["MLOPS_K8S_JOB_NAMESPACE"]
    return config


def executor_from_environment(
    env: Mapping[str, str] | None = None,
) -> dg.ExecutorDefinition:
    """`in_process` unless `MLOPS_EXECUTOR=k8s` asks for a Kubernetes pod per step."""
    env = os.environ if env is None else env
    choice = env.get(EXECUTOR_VARIABLE, "in_process").strip().lower()
    if choice in ("", "in_process"):
        return dg.in_process_executor
    if choice == "k8s":
        # dagster-k8s (and its kubernetes client) is needed only on a cluster.
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_executor_config(env), name="k8s")
    raise ValueError(f"{EXECUTOR_VARIABLE}={choice!r}: expected `in_process` or `k8s`")
