"""The evaluation report asset: the registered model judged on the test window."""

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.assets.metadata import (
    METRIC_DESCRIPTIONS,
    inline_figure,
    metric,
    mlflow_link,
    records_table,
)
from mlops_assets.assets.naming import SpecAssets
from mlops_assets.evaluation import (
    PRIMARY_METRIC,
    baseline_scores,
    beats_baseline,
    calibration_table,
    evaluation_plot_png,
    markdown_table,
    slice_metrics,
    task_metrics,
)
from mlops_assets.evaluation.figures import evaluation_figures, importance_figure
from mlops_assets.features.build import categorical_columns
from mlops_assets.policy.evidence import champion_view, expectations_of, windows_of
from mlops_assets.policy.retraining import Expectations
from mlops_assets.serving.reference import EXPECTATIONS_FILE, reference_sample
from mlops_assets.serving.registered import LoadedModel
from mlops_assets.training.encoding import FeatureEncoding
from mlops_assets.training.model_ref import RegisteredModel
from mlops_assets.training.scope import TrainingScope
from mlops_assets.training.split import SPLIT
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

if TYPE_CHECKING:
    import mlflow.pyfunc

MODEL_BEATS_BASELINE = "model_beats_baseline"
TEST_METRIC_MEETS_FLOOR = "test_metric_meets_floor"
FIGURES = "figures"


def score(
    loaded: "mlflow.pyfunc.PyFuncModel", frame: pl.DataFrame, ref: RegisteredModel
) -> np.ndarray:
    """Scores from the registered model, exactly as a consumer of the registry would get them."""
    from mlops_assets.training.packaged_model import to_model_input

    output = loaded.predict(to_model_input(frame, ref.features, ref.categorical))
    return np.asarray(output, dtype=np.float64)


def test_window_expectations(
    spec, training_set: pl.DataFrame, loaded: "mlflow.pyfunc.PyFuncModel", ref: RegisteredModel
) -> Expectations:
    """The model's test windows measured as the drift asset will measure its monitoring windows:
    the yardstick monitoring holds later windows to (`mlops_assets/policy/retraining.py`)."""

    wrapped = loaded.unwrap_python_model()
    model = LoadedModel(
        ref.name, ref.version, wrapped.booster, wrapped.encoding, wrapped.best_iteration
    )
    train = training_set.filter(pl.col(SPLIT) == "train")
    view = champion_view(
        spec,
        model,
        TrainingScope.of_training_set(spec, training_set),
        reference_sample(train, spec.drift.max_sample_rows),
    )
    test = training_set.filter(pl.col(SPLIT) == "test")
    grain = spec.event_time.grain if spec.event_time else None
    return expectations_of(view, windows_of(test, grain), model.predict)


def _comparison(model: dict[str, float], baseline: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "metric": list(model),
            "model": list(model.values()),
            "baseline": [baseline.get(k, float("nan")) for k in model],
        }
    )


CALIBRATION_COLUMNS = {
    "bin": "Probability bin, 0 (lowest scores) to 9",
    "lower": "Lowest probability in the bin",
    "upper": "Highest probability in the bin",
    "rows": "Test rows whose score falls in the bin",
    "mean_predicted": "Mean predicted probability of the bin's rows",
    "observed_rate": "Share of the bin's rows that are positive (calibrated: close to mean_predicted)",
}
IMPORTANCE_COLUMNS = {
    "feature": "Model input",
    "gain": "Total loss reduction of the splits on this feature (higher: more useful)",
    "split": "How many tree splits use this feature",
}
IMPORTANCE_SHOWN = 15


def slice_columns(slice_column: str, frame: pl.DataFrame) -> dict[str, str]:
    """The metrics-by-slice table's columns, each described (metrics as in `task_metrics`)."""
    return {
        "slice": f"Value of `{slice_column}` (the largest slices)",
        "rows": "Test rows in the slice",
        **{c: METRIC_DESCRIPTIONS.get(c, c) for c in frame.columns if c not in ("slice", "rows")},
    }


def build_evaluation_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    task = spec.target.task
    metric_name, _ = PRIMARY_METRIC[task]

    @dg.asset(
        **names.asset_args(names.evaluation, "evaluation3"),
        kinds={"mlflow", "polars"},
        ins={"model": dg.AssetIn(key=names.model)},
        deps=[names.training_set],
        check_specs=[
            dg.AssetCheckSpec(
                MODEL_BEATS_BASELINE,
                asset=names.evaluation,
                blocking=False,
                description=f"The model's test {metric_name} beats a trivial baseline's.",
            ),
            dg.AssetCheckSpec(
                TEST_METRIC_MEETS_FLOOR,
                asset=names.evaluation,
                blocking=False,
                description=f"The model's test {metric_name} is at least quality.min_test_metric.",
            ),
        ],
        description="Test-window metrics against a trivial baseline, calibration, importance and slices.",
    )
    def evaluation(
        context: dg.AssetExecutionContext,
        model: RegisteredModel,
        delta: DeltaStore,
        mlflow_tracking: MlflowTracking,
    ):
        """How good the model is on data it never saw, and whether that beats guessing."""
        import mlflow.pyfunc
        from mlflow.entities import Metric

        frame = delta.read(names.training_set, version=model.training_set_version)
        train, test = frame.filter(pl.col(SPLIT) == "train"), frame.filter(pl.col(SPLIT) == "test")
        mlflow_tracking.client()
        loaded = mlflow.pyfunc.load_model(model.model_uri)
        encoding: FeatureEncoding = loaded.unwrap_python_model().encoding
        n_classes = len(encoding.classes) or None
        target = spec.target.column
        y_train = encoding.labels(train, target)
        test, y_test = encoding.known_labels(test, target)
        scores = score(loaded, test, model)
        threshold = model.decision_threshold
        metrics = task_metrics(task, y_test, scores, threshold=threshold, n_classes=n_classes)
        baseline = task_metrics(
            task,
            y_test,
            baseline_scores(task, y_train, len(y_test), n_classes),
            threshold=threshold,
            n_classes=n_classes,
        )
        importance = loaded.unwrap_python_model().booster
        importance = pl.DataFrame(
            {
                "feature": importance.feature_name(),
                "gain": importance.feature_importance("gain").astype(float),
                "split": importance.feature_importance("split").astype(int),
            }
        ).sort("gain", descending=True)
        slice_column = spec.quality.slice_column or next(
            iter(categorical_columns(spec, test, model.features)), None
        )
        slices = (
            slice_metrics(
                task,
                y_test,
                scores,
                test[slice_column].cast(pl.String).to_numpy(),
                threshold=threshold,
                n_classes=n_classes,
            )
            if slice_column and slice_column in test.columns
            else pl.DataFrame()
        )
        calibration = calibration_table(y_test, scores) if task == "binary" else pl.DataFrame()
        expected = test_window_expectations(spec, frame, loaded, model)
        profile = expected.to_metrics()
        png = evaluation_plot_png(task, y_test, scores, importance)
        figures = [
            *evaluation_figures(
                task,
                y_test,
                scores,
                threshold=0.5 if threshold is None else threshold,
                classes=encoding.classes,
            ),
            importance_figure(importance),
        ]
        comparison = _comparison(metrics, baseline)
        report = (
            f"## {spec.model_name} v{model.version}: test window\n\n{markdown_table(comparison)}\n\n"
            + (
                f"### Calibration\n\n{markdown_table(calibration)}\n\n"
                if calibration.height
                else ""
            )
            + (f"### By `{slice_column}`\n\n{markdown_table(slices)}\n\n" if slices.height else "")
            + f"### Feature importance (gain)\n\n{markdown_table(importance.head(15))}\n"
        )
        client = mlflow_tracking.client()
        client.log_batch(
            model.run_id,
            metrics=[
                Metric(f"test_{k}", float(v), 0, 0) for k, v in metrics.items() if np.isfinite(v)
            ]
            + [
                Metric(f"baseline_{k}", float(v), 0, 0)
                for k, v in baseline.items()
                if np.isfinite(v)
            ]
            + [Metric(f"test_{k}", float(v), 0, 0) for k, v in profile.items()],
        )
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder)
            (out / "evaluation.md").write_text(report)
            (out / "evaluation.png").write_bytes(png)
            (out / FIGURES).mkdir()
            for figure in figures:
                (out / FIGURES / figure.name).write_bytes(figure.png)
            comparison.write_csv(out / "metrics.csv")
            (out / EXPECTATIONS_FILE).write_text(json.dumps(expected.to_dict(), indent=1))
            importance.write_csv(out / "feature_importance.csv")
            if calibration.height:
                calibration.write_csv(out / "calibration.csv")
            if slices.height:
                slices.write_csv(out / "slices.csv")
            client.log_artifacts(model.run_id, folder, "evaluation")
        beaten = beats_baseline(task, metrics, baseline)
        floor = spec.quality.min_test_metric
        context.log.info(
            f"{spec.name}: test {metric_name} {metrics[metric_name]:.4f} (baseline {baseline[metric_name]:.4f})"
        )
        yield dg.Output(
            {
                "model_version": model.version,
                "metrics": metrics,
                "baseline": baseline,
                "rows": len(y_test),
                "slice_column": slice_column if slices.height else None,
            },
            metadata={
                **{f"test_{k}": metric(v) for k, v in metrics.items()},
                **{f"baseline_{k}": metric(v) for k, v in baseline.items()},
                "model_version": dg.MetadataValue.int(int(model.version)),
                "mlflow_run": mlflow_link(
                    mlflow_tracking.run_url(model.experiment_id, model.run_id), model.run_id
                ),
                "test_rows": dg.MetadataValue.int(len(y_test)),
                **{
                    f"test_{k}": dg.MetadataValue.int(int(v)) if k == "windows" else metric(v)
                    for k, v in profile.items()
                },
                "calibration": (
                    records_table(calibration, CALIBRATION_COLUMNS)
                    if calibration.height
                    else dg.MetadataValue.text("n/a (binary targets only)")
                ),
                "slices": (
                    records_table(slices, slice_columns(slice_column, slices))
                    if slices.height
                    else dg.MetadataValue.text("no slice column")
                ),
                "slice_column": slice_column if slices.height else "none",
                "feature_importance": records_table(
                    importance.head(IMPORTANCE_SHOWN), IMPORTANCE_COLUMNS
                ),
                **{
                    f"figure_{figure.name.removesuffix('.png')}": inline_figure(
                        figure.title,
                        mlflow_tracking.artifact_file_url(
                            model.run_id, f"evaluation/{FIGURES}/{figure.name}"
                        ),
                    )
                    for figure in figures
                },
            },
        )
        yield dg.AssetCheckResult(
            check_name=MODEL_BEATS_BASELINE,
            passed=beaten,
            description=f"test {metric_name} {metrics[metric_name]:.4f} vs baseline {baseline[metric_name]:.4f}",
        )
        yield dg.AssetCheckResult(
            check_name=TEST_METRIC_MEETS_FLOOR,
            passed=floor is None or bool(metrics[metric_name] >= floor),
            description=f"test {metric_name} {metrics[metric_name]:.4f}, floor {floor if floor is not None else 'none set'}",
        )

    return evaluation
