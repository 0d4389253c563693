"""One refresh: the state of every spec, each read on its own so one broken spec hides no other."""

import dagster as dg
from mlflow.tracking import MlflowClient

from mlops_assets.assets.naming import SpecAssets
from mlops_assets.evaluation import PRIMARY_METRIC
from mlops_assets.monitoring.dagster_reader import (
    RUNS_ACTIVE,
    RUNS_FINISHED,
    read_drift,
    read_scoring,
    read_validation,
    run_counts,
)
from mlops_assets.monitoring.mlflow_reader import read_champion
from mlops_assets.monitoring.spec_state import SpecState
from mlops_assets.specs.model import DatasetSpec


def read_spec_state(
    instance: dg.DagsterInstance, client: MlflowClient, spec: DatasetSpec, partitions_kept: int
) -> SpecState:
    """A spec's champion, latest validation, scoring and drift, and its run counts."""
    names = SpecAssets(spec)
    metric, _ = PRIMARY_METRIC[spec.target.task]
    return SpecState(
        spec=spec.name,
        metric=metric,
        metric_floor=spec.quality.min_test_metric,
        rejected_share_limit=spec.quality.max_rejected_share,
        champion=read_champion(client, spec.model_name, metric),
        validation=read_validation(instance, names),
        scoring=read_scoring(instance, names),
        drift=read_drift(instance, names, metric, partitions_kept),
        runs_finished=run_counts(instance, spec.name, RUNS_FINISHED),
        runs_active=run_counts(instance, spec.name, RUNS_ACTIVE),
    )


def read_states(
    instance: dg.DagsterInstance,
    client: MlflowClient,
    specs: list[DatasetSpec],
    partitions_kept: int,
) -> tuple[list[SpecState], dict[str, str]]:
    """Every spec's state, and the error of each spec that could not be read."""
    states, errors = [], {}
    for spec in specs:
        try:
            states.append(read_spec_state(instance, client, spec, partitions_kept))
        except Exception as error:  # one spec's broken store must not blank the others
            errors[spec.name] = f"{type(error).__name__}: {error}"
    return states, errors
