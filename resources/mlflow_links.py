"""Links into the MLflow UI: one place that knows its address and its page routes.

Every MLflow reference the platform shows (asset metadata in the Dagster UI, the
model card, the registered version's description) is a clickable http link built
here, so a reader goes from a Dagster asset to the run, the model version or the
artifact in one click.

The UI's address is, in order: `MLOPS_MLFLOW_UI_URL`; `MLFLOW_UI_URL` (its older
name); the tracking server itself when `MLFLOW_TRACKING_URI` is http(s); else
`DEFAULT_UI_URL`, the MLflow UI that `make run` starts over the embedded store.

The routes are those of the installed MLflow UI (a single-page app with hash
routes, `mlflow/server/js`): `#/experiments/<id>/runs/<run>`,
`#/experiments/<id>/runs/<run>/artifacts/<path>` and `#/models/<name>/versions/<v>`;
and the server's own `/get-artifact?path=<path>&run_uuid=<run>`, which sends an
artifact's bytes (figures shown inline in the Dagster UI load from it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

DEFAULT_UI_URL = "http://127.0.0.1:5000"
UI_URL_ENV = "MLOPS_MLFLOW_UI_URL"
LEGACY_UI_URL_ENV = "MLFLOW_UI_URL"


def mlflow_ui_base(tracking_uri: str, environ: Mapping[str, str] | None = None) -> str:
    """The MLflow UI's base address for a tracking URI, with no trailing slash."""
    env = os.environ if environ is None else environ
    configured = env.get(UI_URL_ENV) or env.get(LEGACY_UI_URL_ENV)
    if configured:
        return configured.rstrip("/")
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return DEFAULT_UI_URL


def _part(text: str) -> str:
    return quote(str(text), safe="")


@dataclass(frozen=True)
class MlflowLinks:
    """The MLflow UI pages of runs, registered model versions and run artifacts."""

    base: str

    @classmethod
    def for_tracking_uri(
        cls, tracking_uri: str, environ: Mapping[str, str] | None = None
    ) -> MlflowLinks:
        return cls(mlflow_ui_base(tracking_uri, environ))

    def run(self, experiment_id: str, run_id: str) -> str:
        """The run's page: parameters, metrics, tags and its artifacts tab."""
        return f"{self.base}/#/experiments/{_part(experiment_id)}/runs/{_part(run_id)}"

    def artifact(self, experiment_id: str, run_id: str, path: str) -> str:
        """The run's artifacts tab opened on one file (for example `model_card.md`)."""
        parts = "/".join(_part(p) for p in path.strip("/").split("/"))
        return f"{self.run(experiment_id, run_id)}/artifacts/{parts}"

    def artifact_file(self, run_id: str, path: str) -> str:
        """The bytes of one run artifact, as the MLflow server sends them (`/get-artifact`): what
        an `<img>` in the Dagster UI loads to show a figure inline."""
        return f"{self.base}/get-artifact?path={quote(path.strip('/'), safe='/')}&run_uuid={_part(run_id)}"

    def model_version(self, model_name: str, version: str | int) -> str:
        """The registered model version's page: its aliases, tags, description and source run."""
        return f"{self.base}/#/models/{_part(model_name)}/versions/{_part(str(version))}"

    def compare_runs(self, experiment_ids: list[str], run_ids: list[str]) -> str:
        """MLflow's side-by-side view of runs: parameters, metrics and their charts."""
        runs = quote(json.dumps(list(run_ids)), safe="")
        experiments = quote(json.dumps(sorted(set(experiment_ids))), safe="")
        return f"{self.base}/#/compare-runs?runs={runs}&experiments={experiments}"

    def registered_model(self, model_name: str) -> str:
        """The registered model's page: every version and which one holds the champion alias."""
        return f"{self.base}/#/models/{_part(model_name)}"
