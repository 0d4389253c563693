"""The serving champion as the base of a review, when a tracking store is given.

With `MLFLOW_TRACKING_URI` set and no `--base`, the change is compared with
`models:/NAME@champion` of that store, as the promotion gate would compare it:
the champion scores the change's test rows that it never trained on (its
recorded training scope), and the drift of the change's training window is
measured against the champion's recorded training rows. The champion scores
the change's feature rows, so it can only be judged when the change still
builds every feature the champion uses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import mlflow
import polars as pl
from deltalake.exceptions import DeltaError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_assets.review.reviewed_model import ReviewedModel
from mlops_assets.review.spec_versions import ReviewError
from mlops_assets.serving.champion import champion_version
from mlops_assets.serving.reference import champion_record
from mlops_assets.serving.registered import load_version
from mlops_assets.specs.model import DatasetSpec
from resources.object_storage import OBJECT_STORE_CREDENTIALS, object_store_settings


def store_options(env: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """The object-store settings and credentials of the platform's Delta tables, from `env`."""
    options = object_store_settings(env)
    options |= {name: env[name] for name in OBJECT_STORE_CREDENTIALS.values() if env.get(name)}
    return options or None


def current_champion(
    spec: DatasetSpec, tracking_uri: str, storage_options: dict[str, str] | None
) -> ReviewedModel | None:
    """The champion of `spec`'s model in the store at `tracking_uri`, or None when none serves."""
    client = MlflowClient(tracking_uri, tracking_uri)
    try:
        version = champion_version(client, spec.model_name)
        if version is None:
            return None
        record = champion_record(client, spec.model_name, version, storage_options)
        run = client.get_run(client.get_model_version(spec.model_name, version).run_id)
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        loaded = load_version(spec.model_name, version)
        reference = record.training_rows(spec.drift.max_sample_rows)
    except (
        MlflowException,
        DeltaError,
        pl.exceptions.PolarsError,
        OSError,
        KeyError,
        ValueError,
    ) as error:
        raise ReviewError(
            f"{tracking_uri}: cannot read champion of `{spec.model_name}`: {error}"
        ) from error
    threshold = run.data.params.get("decision_threshold")
    return ReviewedModel(
        label=f"champion v{version}",
        version=version,
        model=loaded,
        decision_threshold=float(threshold)
        if threshold is not None
        else spec.quality.decision_threshold,
        scope=record.scope,
        rows=None,
        reference=reference,
        test_metrics=dict(record.test_metrics),
        baseline_metrics={
            k.removeprefix("baseline_"): v
            for k, v in run.data.metrics.items()
            if k.startswith("baseline_")
        },
    )
