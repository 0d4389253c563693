"""Gathering a model card from lineage: Dagster events and MLflow records, nothing recomputed.

The training set's windows come from its materialization at the model's Delta
version, slices from the evaluation's `slices.csv` artifact, and the drift
status from the latest drift result recorded before the model's MLflow run
started. The decision and the gate's evidence table are handed over by the
gate itself, which records them in the same step.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import names_of, table_rows
from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table
from mlops_assets.governance.actors import actor_of, launched_by, trigger_of
from mlops_assets.governance.model_card import DriftStatus, ModelCard
from mlops_assets.governance.recorded_events import metadata_values, newest_materialization
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.model_ref import RegisteredModel

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class LineageKeys:
    """The assets whose records a card is read from."""

    training_set: dg.AssetKey
    drift: dg.AssetKey


def run_artifact_text(client: MlflowClient, run_id: str, path: str) -> str | None:
    """The text of one artifact of an MLflow run, or None if the run has no such artifact."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            local = client.download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
        file = Path(local)
        return file.read_text() if file.is_file() else None


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def drift_at(
    instance: dg.DagsterInstance, drift_key: dg.AssetKey, before: float
) -> DriftStatus | None:
    """The latest drift result recorded before `before` (a Unix time), if any."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=drift_key, before_timestamp=before), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    values = metadata_values(record)
    window = record.asset_materialization.partition or "whole table"
    return DriftStatus(
        window=window,
        recorded_at=_iso(record.timestamp),
        champion_version=str(values.get("champion_version", "?")),
        drift_share=float(values.get("drift_share", float("nan"))),
        dataset_drift=bool(values.get("dataset_drift", False)),
        retrain_signal=bool(values.get("retrain_signal", False)),
        drifted_features=names_of(values.get("drifted_features")),
    )


def _splits_markdown(value) -> str:
    """The training set's `splits` table as markdown for the card (older records stored markdown)."""
    rows = table_rows(value)
    if rows:
        return markdown_table(pl.DataFrame(rows))
    return str(value or "")


def gather_model_card(
    spec: DatasetSpec,
    keys: LineageKeys,
    instance: dg.DagsterInstance,
    client: MlflowClient,
    *,
    model: RegisteredModel,
    evaluation: Mapping,
    decision: Mapping,
    evidence: str,
    dagster_run_id: str,
    run_tags: Mapping[str, str],
    mlflow_run_url: str | None,
    mlflow_model_version_url: str | None = None,
    mlflow_card_url: str | None = None,
) -> ModelCard:
    """A model version's card from the records its training left behind and the gate's decision."""
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    training_set = newest_materialization(
        instance,
        keys.training_set,
        lambda values: values.get("delta_version") == model.training_set_version,
    )
    split_values = metadata_values(training_set) if training_set else {}
    features = json.loads(run_artifact_text(client, model.run_id, "features.json") or "{}")
    slices_csv = run_artifact_text(client, model.run_id, "evaluation/slices.csv")
    slices = pl.read_csv(io.StringIO(slices_csv)) if slices_csv else pl.DataFrame()
    started = client.get_run(model.run_id).info.start_time / 1000
    champion_metric = decision.get("champion_metric")
    return ModelCard(
        spec_name=spec.name,
        model_name=model.name,
        version=model.version,
        owner=spec.owner,
        description=spec.description,
        intended_use=spec.intended_use,
        task=spec.target.task,
        target=spec.target.column,
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        dagster_run_id=dagster_run_id,
        trigger=trigger_of(run_tags),
        launched_by=launched_by(run_tags),
        mlflow_run_id=model.run_id,
        mlflow_run_url=mlflow_run_url,
        mlflow_model_version_url=mlflow_model_version_url,
        mlflow_card_url=mlflow_card_url,
        git_commit=model.git_commit,
        spec_fingerprint=model.spec_fingerprint,
        training_set_uri=model.training_set_uri,
        training_set_version=model.training_set_version,
        training_set_data_version=model.training_set_data_version,
        windows=dict(split_values.get("windows") or {}),
        time_split=spec.time is not None,
        splits=_splits_markdown(split_values.get("splits")),
        features=list(model.features),
        categorical=list(model.categorical),
        excluded=dict(features.get("excluded") or {}),
        metric_name=metric_name,
        metrics={k: float(v) for k, v in evaluation["metrics"].items()},
        baseline={k: float(v) for k, v in evaluation["baseline"].items()},
        test_rows=int(evaluation.get("rows", 0)),
        slice_column=evaluation.get("slice_column") or spec.quality.slice_column,
        slices=slices,
        decision=str(decision["decision"]),
        champion_before=decision.get("champion_before"),
        champion_after=decision.get("champion_after"),
        champion_metric=None if champion_metric is None else float(champion_metric),
        actor=str(decision.get("actor") or actor_of(run_tags)),
        evidence=evidence,
        drift=drift_at(instance, keys.drift, started),
        limitations=list(spec.limitations),
    )
