"""Reading the serving model of a spec from the MLflow registry: the champion alias and its test metric."""

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_assets.monitoring.spec_state import Champion
from mlops_assets.serving.champion import CHAMPION


def read_champion(client: MlflowClient, model_name: str, metric: str) -> Champion | None:
    """The champion version and the `test_<metric>` its training run logged; None before a promotion."""
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None
    test_metric = None
    if version.run_id:
        try:
            test_metric = client.get_run(version.run_id).data.metrics.get(f"test_{metric}")
        except MlflowException:
            test_metric = None
    return Champion(model_name=model_name, version=int(version.version), test_metric=test_metric)
