"""Every version of a spec's model on one page, and the champion beside the latest challenger.

What an analyst compares before trusting a promotion: which versions exist, what data each was
trained on, how each scored on its own test rows, what the gate decided and which one serves.
The promotion asset shows it as two tables with a link to MLflow's compare view; the gate's
fair comparison (both models on rows neither trained on) stays in the promotion's `evidence`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from mlops_assets.serving.reference import DATA_THROUGH_TAG
from mlops_assets.training.gate_record import GATE_TAG

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

MAX_VERSIONS = 50
TRAINING_SET_VERSION_TAG = "mlops.training_set_version"

VERSION_COLUMNS = {
    "version": "Registered model version (newest first)",
    "aliases": "Aliases the version holds now: champion serves, previous_champion is the rollback target",
    "gate": "The promotion gate's decision: promoted, rejected, pending (not gated yet) or abandoned",
    "registered": "When the version was registered (UTC)",
    "training_set_version": "Delta version of the training_set table it was trained on",
    "trained_through": "Newest event time in its training data (a time split); empty for a random split",
    "test_metric": "The spec's primary metric on the version's own test rows",
    "valid_metric": "The same metric on its validation rows (early stopping)",
}
COMPARISON_COLUMNS = {
    "metric": "A test metric both versions recorded (test_ prefix: on each version's own test rows)",
    "champion": "The value of the version that served when the gate decided",
    "challenger": "The value of the version the gate judged",
    "difference": "challenger - champion (higher is better except for log loss, Brier, RMSE, MAE)",
}


def _versions(client: MlflowClient, model_name: str) -> list[ModelVersion]:
    found = client.search_model_versions(f"name = '{model_name}'", max_results=1000)
    return sorted(found, key=lambda v: int(v.version), reverse=True)[:MAX_VERSIONS]


def _registered(version: ModelVersion) -> str:
    stamp = dt.datetime.fromtimestamp(version.creation_timestamp / 1000, tz=dt.UTC)
    return f"{stamp:%Y-%m-%d %H:%M}"


def versions_table(client: MlflowClient, model_name: str, metric_name: str) -> pl.DataFrame:
    """One row per registered version of `model_name` (the newest `MAX_VERSIONS`)."""
    rows = []
    holders: dict[str, list[str]] = {}
    for alias, held_by in (client.get_registered_model(model_name).aliases or {}).items():
        holders.setdefault(str(held_by), []).append(alias)
    for version in _versions(client, model_name):
        run: Run = client.get_run(version.run_id)
        metrics, tags = run.data.metrics, run.data.tags
        rows.append(
            {
                "version": int(version.version),
                "aliases": ", ".join(sorted(holders.get(str(version.version), []))),
                "gate": (version.tags or {}).get(GATE_TAG, ""),
                "registered": _registered(version),
                "training_set_version": int(tags[TRAINING_SET_VERSION_TAG])
                if tags.get(TRAINING_SET_VERSION_TAG, "").isdigit()
                else None,
                "trained_through": tags.get(DATA_THROUGH_TAG, ""),
                "test_metric": metrics.get(f"test_{metric_name}"),
                "valid_metric": metrics.get("valid_metric"),
            }
        )
    schema = {
        "version": pl.Int64,
        "aliases": pl.String,
        "gate": pl.String,
        "registered": pl.String,
        "training_set_version": pl.Int64,
        "trained_through": pl.String,
        "test_metric": pl.Float64,
        "valid_metric": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def version_run(client: MlflowClient, model_name: str, version: str) -> Run:
    """The MLflow run a version was logged in (its metrics, and its ids for links)."""
    return client.get_run(client.get_model_version(model_name, version).run_id)


def side_by_side(champion: Run, challenger: Run) -> pl.DataFrame:
    """Every test metric the two versions' runs both recorded, with the challenger's difference."""
    ours, theirs = champion.data.metrics, challenger.data.metrics
    shared = sorted(k for k in ours.keys() & theirs.keys() if k.startswith("test_"))
    return pl.DataFrame(
        {
            "metric": shared,
            "champion": [ours[k] for k in shared],
            "challenger": [theirs[k] for k in shared],
            "difference": [theirs[k] - ours[k] for k in shared],
        },
        schema={
            "metric": pl.String,
            "champion": pl.Float64,
            "challenger": pl.Float64,
            "difference": pl.Float64,
        },
    )
