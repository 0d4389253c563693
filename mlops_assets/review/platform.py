"""One training of a spec on the sample, in a Dagster home and MLflow store made for it.

The home is a fresh folder with the committed `dagster.yaml` (SQLite storage), and
the process environment points there only while the training runs: `DAGSTER_HOME`,
the spec path with only the review's copy of the spec, no built-in specs, and no
`MLFLOW_TRACKING_URI`, `MLOPS_DATA_ROOT` or `MLOPS_IO_ROOT`, so the MLflow store,
the Delta tables and the step outputs all land inside the home. The user's own
Dagster home and tracking store are never opened. The whole graph up to the
promotion gate is materialized by `mlops run`'s own driver (`run_spec`, passed
in by the CLI), then read back: check evaluations from the runs' event logs,
row counts from the Delta tables, the model from the home's MLflow store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import yaml

from mlops_assets.assets.naming import SpecAssets
from mlops_assets.review.reviewed_model import CheckOutcome, ReviewedModel, RowCounts, Training
from mlops_assets.serving.registered import load_version
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import SPLIT

RunSpec = Callable[..., dict[str, Any]]
INSTANCE_CONFIG = Path(__file__).resolve().parents[2] / "dagster.yaml"
# Settings that would send a training to the user's own stores.
CLEARED_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ARTIFACT_ROOT",
    "MLFLOW_UI_URL",
    "MLOPS_MLFLOW_UI_URL",
    "MLOPS_DATA_ROOT",
    "MLOPS_IO_ROOT",
    "MLOPS_EXECUTOR",
)


@contextmanager
def throwaway_home(folder: Path, spec_path: Path) -> Iterator[Path]:
    """Point the process at a new Dagster home in `folder` that loads only `spec_path`."""
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if INSTANCE_CONFIG.is_file():
        shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    settings: dict[str, str | None] = {
        "DAGSTER_HOME": str(home),
        "MLOPS_SPECS_PATH": str(spec_path),
        "MLOPS_BUILTIN_SPECS": "0",
        **dict.fromkeys(CLEARED_VARIABLES),
    }
    saved = {name: os.environ.get(name) for name in settings}
    try:
        _apply(settings)
        yield home
    finally:
        _apply(saved)


def _apply(settings: dict[str, str | None]) -> None:
    for name, value in settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _checks(
    instance: dg.DagsterInstance, run_ids: list[str], sample_uri: str, source_uri: str
) -> tuple[CheckOutcome, ...]:
    """Every check the runs evaluated; a detail that names the sample file names the source."""
    outcomes = []
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            blocking = evaluation.blocking
            if blocking is None:
                blocking = evaluation.severity == dg.AssetCheckSeverity.ERROR
            outcomes.append(
                CheckOutcome(
                    asset=evaluation.asset_key.path[-1],
                    check=evaluation.check_name,
                    passed=evaluation.passed,
                    blocking=bool(blocking),
                    description=(evaluation.description or "")
                    .replace(sample_uri, source_uri)
                    .strip(),
                )
            )
    return tuple(outcomes)


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _count(delta, key: dg.AssetKey) -> int | None:
    if delta.version(key) is None:
        return None
    return int(delta.scan(key).select(pl.len()).collect().item())


def _metrics(evaluation: dict[str, Any], prefix: str) -> dict[str, float]:
    return {
        k.removeprefix(prefix): float(v)
        for k, v in evaluation.items()
        if k.startswith(prefix) and isinstance(v, int | float) and k != "test_rows"
    }


def _row_counts(delta, names: SpecAssets, frame: pl.DataFrame | None, sampled: int) -> RowCounts:
    splits = dict(frame.group_by(SPLIT).len().iter_rows()) if frame is not None else {}
    return RowCounts(
        sampled=sampled,
        ingested=_count(delta, names.raw),
        rejected=_count(delta, names.rejected_rows),
        train=splits.get("train"),
        valid=splits.get("valid"),
        test=splits.get("test"),
    )


def _reviewed_model(
    spec: DatasetSpec, label: str, frame: pl.DataFrame, model: dict, evaluation: dict
) -> ReviewedModel:
    """The registered model of this home, loaded from its MLflow store, with its training set."""
    version = str(model["model_version"])
    return ReviewedModel(
        label=f"the {label} model",
        version=version,
        model=load_version(spec.model_name, version),
        decision_threshold=float(model.get("decision_threshold", spec.quality.decision_threshold)),
        scope=TrainingScope.of_training_set(spec, frame),
        rows=frame,
        reference=frame.filter(pl.col(SPLIT) == "train"),
        test_metrics=_metrics(evaluation, "test_"),
        baseline_metrics=_metrics(evaluation, "baseline_"),
    )


def train_on_sample(
    spec: DatasetSpec, source_uri: str, folder: Path, label: str, sampled_rows: int, run: RunSpec
) -> Training:
    """Train the review's copy of a spec in a throwaway home under `folder`, and read it back.

    `source_uri` is the source the sample was drawn from (named in the report
    instead of the sample file); `label` (`change` or `base`) names the run's user
    and the model in the report.
    """
    spec_path = folder / "specs" / f"{spec.name}.yaml"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    with throwaway_home(folder, spec_path):
        # Imported here: the first import of the code location loads the specs of the
        # environment it meets, which must be this home's.
        from mlops_assets.definitions import build_resources

        summary = run(spec.name, user=f"review:{label}", scoring=False)
        instance = dg.DagsterInstance.get()
        names = SpecAssets(spec)
        resources = build_resources()
        delta = resources["delta"]
        checks = _checks(instance, summary["run_ids"], spec.source.uri, source_uri)
        model_meta = _metadata(instance, names.model)
        evaluation = _metadata(instance, names.evaluation)
        frame = None
        if delta.version(names.training_set) is not None:
            pinned = model_meta.get("training_set_version")
            frame = delta.read(names.training_set, version=None if pinned is None else int(pinned))
        model = None
        if frame is not None and model_meta.get("model_version") and evaluation:
            resources["mlflow_tracking"].client()
            model = _reviewed_model(spec, label, frame, model_meta, evaluation)
        rows = _row_counts(delta, names, frame, sampled_rows)
    error = summary.get("error")
    return Training(
        checks=checks,
        rows=rows,
        model=model,
        error=error.replace(spec.source.uri, source_uri) if error else None,
    )
