"""MLflow tracking and model registry, configured per deployment.

dagster-mlflow's `mlflow_tracking` resource opens one MLflow run per Dagster
run and keeps it as process-wide state. Here a model version is the unit: its
MLflow run is opened by the training step and later steps (evaluation, model
card, promotion) log to that same run by id, whichever Dagster run they are in.
The config keys follow dagster-mlflow's (`experiment_name`,
`mlflow_tracking_uri`, `extra_tags`) and so does the `dagster_run_id` tag.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import mlflow
from mlflow.tracking import MlflowClient


def default_tracking_uri(environ: Mapping[str, str] | None = None) -> str:
    """`MLFLOW_TRACKING_URI` if set, else a SQLite store inside `DAGSTER_HOME`.

    `environ` defaults to this process's environment (a supervisor passes its children's).
    """
    env = os.environ if environ is None else environ
    if env.get("MLFLOW_TRACKING_URI"):
        return env["MLFLOW_TRACKING_URI"]
    home = Path(env.get("DAGSTER_HOME", ".dagster_home")).resolve()
    return f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"


def default_artifact_root(environ: Mapping[str, str] | None = None) -> str | None:
    """Artifact folder for a local store; a tracking server chooses its own."""
    env = os.environ if environ is None else environ
    if env.get("MLFLOW_TRACKING_URI"):
        return env.get("MLFLOW_ARTIFACT_ROOT")
    home = Path(env.get("DAGSTER_HOME", ".dagster_home")).resolve()
    return (home / "mlflow" / "artifacts").as_uri()


class MlflowTracking(dg.ConfigurableResource):
    """Where experiments, runs and registered models live."""

    mlflow_tracking_uri: str
    artifact_root: str | None = None
    experiment_prefix: str = "mlops"
    extra_tags: dict[str, str] = {}

    def client(self) -> MlflowClient:
        if self.mlflow_tracking_uri.startswith("sqlite:///"):
            Path(self.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        mlflow.set_tracking_uri(self.mlflow_tracking_uri)
        mlflow.set_registry_uri(self.mlflow_tracking_uri)
        return MlflowClient(self.mlflow_tracking_uri, self.mlflow_tracking_uri)

    def experiment_id(self, spec_name: str) -> str:
        """The experiment of one spec, created on first use."""
        client = self.client()
        name = f"{self.experiment_prefix}/{spec_name}"
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        artifact_location = (
            f"{self.artifact_root.rstrip('/')}/{spec_name}" if self.artifact_root else None
        )
        return client.create_experiment(name, artifact_location=artifact_location)

    def ui_url(self) -> str | None:
        """The MLflow UI: `MLFLOW_UI_URL`, else the tracking server itself; None for a local store."""
        base = os.environ.get("MLFLOW_UI_URL") or (
            self.mlflow_tracking_uri if self.mlflow_tracking_uri.startswith("http") else None
        )
        return base.rstrip("/") if base else None

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        """Link to a run in the MLflow UI, when a tracking server is configured."""
        base = self.ui_url()
        return f"{base}/#/experiments/{experiment_id}/runs/{run_id}" if base else None

    def model_version_url(self, model_name: str, version: str) -> str | None:
        """Link to a registered model version in the MLflow UI, when one is configured."""
        base = self.ui_url()
        return f"{base}/#/models/{model_name}/versions/{version}" if base else None
