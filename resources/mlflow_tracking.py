"""MLflow tracking and model registry, configured per deployment.

dagster-mlflow's `mlflow_tracking` resource opens one MLflow run per Dagster
run and keeps it as process-wide state. Here a model version is the unit: its
MLflow run is opened by the training step and later steps (evaluation, model
card, promotion) log to that same run by id, whichever Dagster run they are in.
The config keys follow dagster-mlflow's (`experiment_name`,
`mlflow_tracking_uri`, `extra_tags`) and so does the `dagster_run_id` tag.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

from resources.mlflow_links import MlflowLinks


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
        import mlflow
        from mlflow.tracking import MlflowClient

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

    def links(self) -> MlflowLinks:
        """Links into the MLflow UI of this store (see `resources.mlflow_links`)."""
        return MlflowLinks.for_tracking_uri(self.mlflow_tracking_uri)

    def ui_url(self) -> str:
        """The MLflow UI: `MLOPS_MLFLOW_UI_URL` or `MLFLOW_UI_URL`, else the tracking server
        itself, else the UI `make run` starts over the embedded store (http://127.0.0.1:5000)."""
        return self.links().base

    def run_url(self, experiment_id: str, run_id: str) -> str:
        """Link to a run in the MLflow UI."""
        return self.links().run(experiment_id, run_id)

    def model_version_url(self, model_name: str, version: str) -> str:
        """Link to a registered model version in the MLflow UI."""
        return self.links().model_version(model_name, version)

    def artifact_url(self, experiment_id: str, run_id: str, path: str) -> str:
        """Link to one artifact of a run in the MLflow UI."""
        return self.links().artifact(experiment_id, run_id, path)

    def artifact_file_url(self, run_id: str, path: str) -> str:
        """The raw bytes of one run artifact, served by the MLflow server (figures load from it)."""
        return self.links().artifact_file(run_id, path)
