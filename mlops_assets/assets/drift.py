"""The drift asset: has the data the champion sees moved away from what it learned from?

Every monitoring window of the run (a partition; the whole table for a spec
without time) is measured on the rows the champion never trained on: feature
drift against its training rows (the exact recorded table version), drift of
its scores and, once labels are there, its realized metric against its own
per-window test metric. Windows inside its training data are recorded as such
and not monitored. The retraining policy (`mlops_assets/policy/retraining.py`)
then decides window by window, in event-time order, whether this adds up to a
reason to retrain; every signal of the run is listed in the metadata, where the
drift sensor reads them.
"""

import datetime as dt
import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.assets.metadata import (
    inline_figure,
    metric,
    names_text,
    partition_count,
    ratio,
    record_per_partition,
    records_table,
    significant,
    table_metadata,
)
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.assets.predictions import ROW_HASH, feature_row_hash, stored_scores
from mlops_assets.drift import DriftSettings
from mlops_assets.drift.detection import REPORT_SCHEMA
from mlops_assets.drift.figures import (
    drifted_feature_figures,
    measured_windows,
    metric_over_time_figure,
)
from mlops_assets.evaluation import PRIMARY_METRIC
from mlops_assets.evaluation.plots import FigurePng
from mlops_assets.governance.model_versions import versions_table
from mlops_assets.governance.recorded_events import newest_training_data, rejected_in_a_row
from mlops_assets.ingest.raw_batch import GRAIN_EVERY, PARTITION
from mlops_assets.policy.evidence import (
    WindowMeasurement,
    champion_view,
    measure_window,
    windows_of,
)
from mlops_assets.policy.retraining import (
    Decision,
    Expectations,
    PolicyState,
    RetrainingPolicy,
    step,
)
from mlops_assets.serving.champion import champion_version
from mlops_assets.serving.reference import champion_record
from mlops_assets.serving.registered import LoadedModel, load_version
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

NO_FEATURE_DRIFT = "no_feature_drift"
NO_PREDICTION_DRIFT = "no_prediction_drift"
NO_PERFORMANCE_DROP = "no_performance_drop"
DRIFT_FEATURES_SHOWN = 10
WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "champion_version": pl.String(),
    "status": pl.String(),
    "rows": pl.Int64(),
    "unseen_rows": pl.Int64(),
    "labelled_rows": pl.Int64(),
    "drift_share": pl.Float64(),
    "dataset_drift": pl.Boolean(),
    "unusual_share": pl.Float64(),
    "window_drifted": pl.Boolean(),
    "prediction_drift_method": pl.String(),
    "prediction_drift_score": pl.Float64(),
    "prediction_drifted": pl.Boolean(),
    "realized_metric": pl.Float64(),
    "expected_metric": pl.Float64(),
    "degraded": pl.Boolean(),
    "decision": pl.String(),
    "signal": pl.String(),
    "reason": pl.String(),
    "drifted_in_a_row": pl.Int64(),
    "degraded_in_a_row": pl.Int64(),
    "quiet_until": pl.Datetime("us"),
}
REPORT_COLUMNS = {
    "window_start": "Start of the monitoring window (event time)",
    "window_end": "End of the monitoring window (exclusive)",
    "champion_version": "Champion model version the window was compared with",
    "status": "measured, awaiting_labels, or trained_on (inside the champion's training data: not monitored)",
    "rows": "Feature rows in the window",
    "unseen_rows": "Rows of the window the champion never trained on: the only ones measured",
    "labelled_rows": "Unseen rows with a label, on which the realized metric is measured",
    "drift_share": "Share of features that drifted in the window",
    "dataset_drift": "Whether the drift share reached drift.dataset_drift_share",
    "unusual_share": "Share of features drifting beyond their usual severity in the champion's test windows",
    "window_drifted": "Whether the unusual share reached drift.dataset_drift_share (what the policy counts)",
    "prediction_drift_method": "Test that decides prediction drift (as for a numeric feature)",
    "prediction_drift_score": "Drift of the champion's scores against its scores of its training rows",
    "prediction_drifted": "Whether the champion's scores drifted in the window",
    "realized_metric": "The champion's primary metric on the window's labelled unseen rows",
    "expected_metric": "The champion's mean per-window metric on its own test windows",
    "degraded": "Realized metric more than drift.max_metric_drop below the expected one",
    "decision": "The retraining policy's verdict: retrain, cooldown, watch or not_monitored",
    "signal": "What raised a retrain signal: performance, drift or hard_drift",
    "reason": "Why, in words",
    "drifted_in_a_row": "Drifted monitored windows in a row, this one included",
    "degraded_in_a_row": "Degraded labelled windows in a row, this one included",
    "quiet_until": "No new signal before this event time (cooldown)",
    "column": "Feature compared with the champion's training rows",
    "kind": "numeric or categorical",
    "method": "Test that decides drift for this feature",
    "score": "The deciding test's statistic (distance or p-value)",
    "threshold": "Drift when the score passes this value",
    "drifted": "Whether the feature drifted in this window",
    "severity": "Score scaled so that 1 is the threshold",
    "psi": "Population stability index (drift from 0.2)",
    "ks_statistic": "Kolmogorov-Smirnov statistic (numeric features)",
    "ks_p_value": "Kolmogorov-Smirnov p-value (numeric features)",
    "wasserstein_normed": "Wasserstein distance over the reference standard deviation",
    "jensen_shannon": "Jensen-Shannon distance, base 2 (categorical features)",
    "chi_square_p_value": "Chi-square p-value (categorical features)",
}


FEATURE_DRIFT_SHOWN = (
    "column",
    "kind",
    "method",
    "score",
    "threshold",
    "drifted",
    "severity",
    "psi",
)
SIGNAL_COLUMNS = {
    "window": "Monitoring window that raised the signal (its start)",
    "window_end": "End of that window (exclusive, ISO time)",
    "signal": "What raised it: performance, drift or hard_drift",
    "reason": "Why, in words",
    "drifted_features": "Features drifting beyond their usual severity, comma-separated",
}


def feature_drift_table(
    report: pl.DataFrame, shown: int = DRIFT_FEATURES_SHOWN
) -> dg.MetadataValue:
    """The most drifted features of one window, one row each, columns described."""
    columns = [c for c in FEATURE_DRIFT_SHOWN if c in report.columns]
    return records_table(report.head(shown).select(columns), REPORT_COLUMNS)


def signals_table(signals: list[dict]) -> dg.TableMetadataValue:
    """The run's retrain signals, one row per signal (the drift sensor reads this table)."""
    frame = pl.DataFrame(
        [{**s, "drifted_features": ", ".join(s["drifted_features"])} for s in signals],
        schema=dict.fromkeys(SIGNAL_COLUMNS, pl.String),
    )
    return records_table(frame, SIGNAL_COLUMNS)


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def champion_scorer(predictions: pl.DataFrame, model: LoadedModel):
    """The champion's scores of given feature rows: stored ones when all are there, else fresh."""
    task, classes = model.encoding.task, model.encoding.classes
    stored = (
        stored_scores(predictions.filter(pl.col("model_version") == model.version), classes, task)
        if ROW_HASH in predictions.columns
        else None
    )

    def scores(rows: pl.DataFrame) -> np.ndarray:
        if stored is not None and stored.height:
            found = rows.select(feature_row_hash(rows)).join(
                stored, on=ROW_HASH, how="left", maintain_order="left"
            )
            values = found.drop(ROW_HASH)
            if values.null_count().sum_horizontal().item() == 0:
                matrix = values.to_numpy().astype(np.float64)
                return matrix if task == "multiclass" else matrix[:, 0]
        return model.predict(rows)

    return scores


def prior_state(
    delta: DeltaStore, names: SpecAssets, version: str, first_window: dt.datetime | None
) -> PolicyState:
    """The policy's state after the latest window recorded before this run's first window."""
    if delta.version(names.drift) is None:
        return PolicyState()
    table = delta.scan(names.drift)
    if names.partitions_def is not None and first_window is not None:
        table = table.filter(pl.col("window_start") < first_window)
    if "quiet_until" not in table.collect_schema():
        return PolicyState()
    latest = (
        table.select(
            "window_start",
            "champion_version",
            "drifted_in_a_row",
            "degraded_in_a_row",
            "quiet_until",
        )
        .sort("window_start")
        .tail(1)
        .collect()
    )
    if latest.height == 0:
        return PolicyState()
    row = latest.row(0, named=True)
    state = PolicyState(
        int(row["drifted_in_a_row"] or 0), int(row["degraded_in_a_row"] or 0), row["quiet_until"]
    )
    return state if row["champion_version"] == version else state.for_new_champion()


def window_table(
    measurement: WindowMeasurement,
    decision: Decision,
    version: str,
    expected: Expectations,
    partition_every: str | None,
) -> pl.DataFrame:
    """The window's rows of the drift table: one per feature (one row when not monitored)."""
    evidence, prediction = measurement.evidence, measurement.prediction or {}
    window = {
        "window_start": evidence.start,
        "window_end": evidence.end,
        "champion_version": version,
        "status": measurement.status,
        "rows": measurement.rows,
        "unseen_rows": measurement.unseen_rows,
        "labelled_rows": measurement.labelled_rows,
        "drift_share": evidence.drift_share,
        "dataset_drift": evidence.dataset_drift if evidence.monitored else None,
        "unusual_share": evidence.unusual_share,
        "window_drifted": decision.drifted,
        "prediction_drift_method": prediction.get("method"),
        "prediction_drift_score": prediction.get("score"),
        "prediction_drifted": prediction.get("drifted"),
        "realized_metric": measurement.realized,
        "expected_metric": expected.metric,
        "degraded": decision.degraded,
        "decision": decision.action,
        "signal": decision.signal,
        "reason": decision.reason,
        "drifted_in_a_row": decision.drifted_in_a_row,
        "degraded_in_a_row": decision.degraded_in_a_row,
        "quiet_until": None,
    }
    report = measurement.report
    if report.height == 0:
        report = pl.DataFrame([dict.fromkeys(REPORT_SCHEMA)], schema=REPORT_SCHEMA)
    frame = report.select(
        *[pl.lit(window[name], dtype=dtype).alias(name) for name, dtype in WINDOW_SCHEMA.items()],
        *REPORT_SCHEMA,
    )
    if partition_every is not None:
        frame = frame.with_columns(
            pl.col("window_start").dt.truncate(partition_every).dt.date().alias(PARTITION)
        )
    return frame


def recorded_signal(decision: Decision, measurement: WindowMeasurement, window: str) -> dict:
    return {
        "window": window,
        "window_end": decision.window_end.isoformat(),
        "signal": decision.signal,
        "reason": decision.reason,
        "drifted_features": list(measurement.evidence.unusual_features[:10]),
    }


def build_drift_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    task = spec.target.task
    metric_name, _ = PRIMARY_METRIC[task]
    policy = RetrainingPolicy.from_spec(spec)

    @dg.asset(
        **names.asset_args(names.drift, "drift3"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        ins={
            "features": dg.AssetIn(key=names.features),
            "predictions": dg.AssetIn(key=names.predictions),
        },
        check_specs=[
            dg.AssetCheckSpec(
                NO_FEATURE_DRIFT,
                asset=names.drift,
                description="No monitored window's drift share reaches drift.dataset_drift_share "
                "(warns on any drifted feature).",
            ),
            dg.AssetCheckSpec(
                NO_PREDICTION_DRIFT,
                asset=names.drift,
                description="The champion's score distribution has not moved in any monitored window.",
            ),
            dg.AssetCheckSpec(
                NO_PERFORMANCE_DROP,
                asset=names.drift,
                description="Where labels exist, no window's realized metric is more than "
                "drift.max_metric_drop below the champion's per-window test metric.",
            ),
        ],
        description="Per window, on rows the champion never trained on: feature drift (PSI, KS, "
        "Jensen-Shannon, Wasserstein, chi-square), prediction drift and realized performance against "
        "the champion's training data and test windows; the retraining policy's decision per window.",
    )
    def drift(
        context: dg.AssetExecutionContext,
        features: pl.DataFrame,
        predictions: pl.DataFrame,
        mlflow_tracking: MlflowTracking,
        delta: DeltaStore,
    ):
        """How far each window moved from the champion's training data, and whether to retrain."""
        client = mlflow_tracking.client()
        version = champion_version(client, spec.model_name)
        if version is None:
            raise dg.Failure(f"{spec.model_name} has no champion to compare with")
        settings = DriftSettings.from_spec(spec)
        record = champion_record(client, spec.model_name, version, delta.object_store_options())
        model = load_version(spec.model_name, version)
        reference_rows = record.training_rows(spec.drift.max_sample_rows)
        view = champion_view(spec, model, record.scope, reference_rows)
        expected = record.expectations(metric_name)
        view = view.expecting(expected)
        windows = windows_of(features, spec.event_time.grain if spec.event_time else None)
        partition_every = (
            GRAIN_EVERY[spec.event_time.partition_grain] if names.partitions_def else None
        )
        state = prior_state(delta, names, version, windows[0][0] if windows else None)
        for through in (
            record.data_through,
            newest_training_data(context.instance, names.training_set),
        ):
            state = state.after_training(through)
        state = state.with_rejections(rejected_in_a_row(context.instance, names.promotion))
        scorer = champion_scorer(predictions, model)
        tables, measured, signals = [], [], []
        latest_rows = None
        for start, end, rows in windows:
            measurement = measure_window(view, start, end, rows, scorer)
            decision, state = step(policy, state, measurement.evidence, expected)
            table = window_table(measurement, decision, version, expected, partition_every)
            tables.append(
                table.with_columns(
                    pl.lit(state.quiet_until, dtype=pl.Datetime("us")).alias("quiet_until")
                )
            )
            if measurement.evidence.monitored:
                measured.append((measurement, decision))
                latest_rows = rows
            if decision.retrain:
                label = (
                    start.date().isoformat()
                    if names.partitions_def
                    else f"{start:%Y-%m-%dT%H:%M:%S}"
                )
                signals.append(recorded_signal(decision, measurement, label))
        table = (
            pl.concat(tables) if tables else pl.DataFrame(schema={**WINDOW_SCHEMA, **REPORT_SCHEMA})
        )
        context.log.info(
            f"{spec.name}: {len(windows)} windows, {len(measured)} monitored against v{version}, "
            f"{len(signals)} retrain signal(s)"
        )
        metadata = drift_metadata(
            spec, table, version, expected, windows, measured, signals, partition_count(context)
        )
        pictures = monitoring_pictures(
            names, delta, client, table, measured, reference_rows, view, latest_rows
        )
        metadata |= logged_figures(mlflow_tracking, record.run_id, pictures)
        if names.partitions_def is not None:
            partitions = names.partitions_def
            record_per_partition(
                context,
                lambda keys: partition_metadata(
                    metric_name,
                    measured,
                    metadata,
                    lambda start: partitions.get_partition_key_for_timestamp(
                        start.replace(tzinfo=dt.UTC).timestamp()
                    ),
                    keys,
                ),
            )
        yield dg.Output(table, data_version=dg.DataVersion(content_hash(table)), metadata=metadata)
        yield from drift_checks(spec, measured, expected, settings, record.data_through)

    return drift


def monitoring_pictures(
    names: SpecAssets,
    delta: DeltaStore,
    client,
    table: pl.DataFrame,
    measured: list[tuple[WindowMeasurement, Decision]],
    reference_rows: pl.DataFrame,
    view,
    latest_rows: pl.DataFrame | None,
) -> tuple[str, list[FigurePng]]:
    """Where the pictures go (under the champion run's `monitoring/`) and the pictures: each
    drifted feature of the newest monitored window, and the spec's metric over time (every
    version's test metric, every window's realized metric, earlier partitions included)."""
    spec = names.spec
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    pictures = []
    folder = "monitoring/no_window"
    if measured and latest_rows is not None:
        latest = measured[-1][0]
        label = f"{latest.evidence.start:%Y-%m-%d}"
        folder = f"monitoring/{label}"
        unseen = view.scope.unseen(latest_rows)
        pictures += drifted_feature_figures(
            latest.report, reference_rows, unseen, f"the window of {label}"
        )
    history = table
    if names.partitions_def is not None and delta.version(names.drift) is not None:
        current = table[PARTITION].unique().implode() if PARTITION in table.columns else []
        earlier = delta.read(names.drift).filter(~pl.col(PARTITION).is_in(current))
        history = pl.concat([earlier.select(table.columns), table], how="vertical_relaxed")
    pictures.append(
        metric_over_time_figure(
            metric_name,
            measured_windows(history),
            versions_table(client, spec.model_name, metric_name),
        )
    )
    return folder, pictures


def logged_figures(
    mlflow_tracking: MlflowTracking, run_id: str, pictures: tuple[str, list[FigurePng]]
) -> dict:
    """Log the pictures as artifacts of `run_id` under their folder; metadata that shows each
    inline in the asset page."""
    folder, figures = pictures
    if not figures:
        return {}
    with tempfile.TemporaryDirectory() as local:
        for figure in figures:
            (Path(local) / figure.name).write_bytes(figure.png)
        mlflow_tracking.client().log_artifacts(run_id, local, folder)
    return {
        f"figure_{figure.name.removesuffix('.png')}": inline_figure(
            figure.title, mlflow_tracking.artifact_file_url(run_id, f"{folder}/{figure.name}")
        )
        for figure in figures
    }


def drift_metadata(
    spec,
    table: pl.DataFrame,
    version: str,
    expected: Expectations,
    windows: list,
    measured: list[tuple[WindowMeasurement, Decision]],
    signals: list[dict],
    partitions: int,
) -> dict:
    """What an analyst and the drift sensor read: the latest monitored window, and every signal."""
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    statuses = [m.status for m, _ in measured]
    metadata = {
        **table_metadata(table, spec, REPORT_COLUMNS, partitions=partitions),
        "champion_version": dg.MetadataValue.int(int(version)),
        "windows": dg.MetadataValue.int(len(windows)),
        "windows_monitored": dg.MetadataValue.int(len(measured)),
        "windows_trained_on": dg.MetadataValue.int(len(windows) - len(measured)),
        "windows_awaiting_labels": dg.MetadataValue.int(statuses.count("awaiting_labels")),
        "retrain_signal": dg.MetadataValue.bool(bool(signals)),
        "retrain_signals": signals_table(signals),
        f"champion_test_{metric_name}": metric(expected.metric),
        "expected_from": expected.describe(),
    }
    if not measured:
        metadata["monitoring"] = (
            "no window to monitor: every row is inside the champion's training data"
        )
        return metadata
    return metadata | latest_window_metadata(metric_name, measured)


def latest_window_metadata(
    metric_name: str, measured: list[tuple[WindowMeasurement, Decision]]
) -> dict:
    """The newest of the `measured` windows (with the mean realized metric over all of them)."""
    latest, decision = measured[-1]
    evidence, report = latest.evidence, latest.report
    realized = [m.realized for m, _ in measured if m.realized is not None]
    top = report.head(DRIFT_FEATURES_SHOWN)
    return {
        "latest_window": f"{evidence.start:%Y-%m-%d %H:%M} .. {evidence.end:%Y-%m-%d %H:%M}",
        "drift_share": ratio(evidence.drift_share or 0.0),
        "dataset_drift": dg.MetadataValue.bool(evidence.dataset_drift),
        "drifted_features": names_text(list(evidence.drifted_features)),
        "unusual_share": ratio(evidence.unusual_share or 0.0),
        "unusual_features": names_text(list(evidence.unusual_features)),
        "prediction_drift_score": metric((latest.prediction or {}).get("score") or 0.0),
        "prediction_drift_method": str((latest.prediction or {}).get("method")),
        f"realized_{metric_name}": metric(latest.realized),
        f"mean_realized_{metric_name}": metric(float(np.mean(realized)) if realized else None),
        "labelled_rows": dg.MetadataValue.int(latest.labelled_rows),
        "drifted_in_a_row": dg.MetadataValue.int(decision.drifted_in_a_row),
        "degraded_in_a_row": dg.MetadataValue.int(decision.degraded_in_a_row),
        "decision": decision.action,
        "feature_drift": feature_drift_table(report),
        **{
            f"drift_severity_{row['column']}": metric(min(float(row["severity"]), 1e6))
            for row in top.iter_rows(named=True)
            if row["severity"] is not None and not np.isnan(row["severity"])
        },
    }


def _blank(value: object) -> object:
    """What a partition without a monitored window shows in place of the run's `value`: NaN
    for a number (the UI's plots leave it out), else a sentence."""
    if isinstance(value, dg.FloatMetadataValue):
        return metric(None)
    if isinstance(value, dg.IntMetadataValue):
        return dg.MetadataValue.int(0)
    return dg.MetadataValue.text("no monitored window in this partition")


def partition_metadata(
    metric_name: str,
    measured: list[tuple[WindowMeasurement, Decision]],
    run_metadata: dict,
    partition_of,
    partition_keys: list[str],
) -> dict[str, dict]:
    """Per partition of a run over several, its own latest-window figures (overriding the run's,
    which Dagster stamps on every partition), so the UI's plots over partitions are real
    series: `partition_of` maps a window's start to its partition key."""
    windows: dict[str, list] = {key: [] for key in partition_keys}
    for pair in measured:
        windows.setdefault(partition_of(pair[0].evidence.start), []).append(pair)
    headline = latest_window_metadata(metric_name, measured) if measured else {}
    per_partition = {}
    for key in partition_keys:
        own = latest_window_metadata(metric_name, windows[key]) if windows[key] else {}
        blanks = {k: _blank(run_metadata.get(k, v)) for k, v in headline.items() if k not in own}
        per_partition[key] = {
            **blanks,
            **own,
            "windows_monitored": dg.MetadataValue.int(len(windows[key])),
        }
    return per_partition


def drift_checks(
    spec,
    measured: list[tuple[WindowMeasurement, Decision]],
    expected: Expectations,
    settings,
    data_through: dt.datetime | None = None,
):
    """The three drift checks over every monitored window of the run.

    The performance check judges only windows after the champion's training set: its own
    test windows are where the expected metric comes from, and the gate judged them.
    """
    metric_name, _ = PRIMARY_METRIC[spec.target.task]
    if not measured:
        for name in (NO_FEATURE_DRIFT, NO_PREDICTION_DRIFT, NO_PERFORMANCE_DROP):
            yield dg.AssetCheckResult(
                check_name=name,
                passed=True,
                description="no window to monitor: every row is inside the champion's training data",
            )
        return
    drifted = [m for m, d in measured if d.drifted]
    any_feature = [m for m, _ in measured if m.evidence.drifted_features]
    latest = measured[-1][0]
    yield dg.AssetCheckResult(
        check_name=NO_FEATURE_DRIFT,
        passed=not any_feature,
        severity=dg.AssetCheckSeverity.ERROR if drifted else dg.AssetCheckSeverity.WARN,
        description=f"{len(drifted)} of {len(measured)} monitored windows drifted (limit share "
        f"{settings.dataset_drift_share}); latest: {len(latest.evidence.drifted_features)} of "
        f"{latest.report.height} features, share {latest.evidence.drift_share:.2f}: "
        f"{', '.join(latest.evidence.drifted_features[:5]) or 'none'}",
        metadata={"drift_share": ratio(latest.evidence.drift_share or 0.0)},
    )
    moved = [m for m, _ in measured if (m.prediction or {}).get("drifted")]
    prediction = latest.prediction or {}
    yield dg.AssetCheckResult(
        check_name=NO_PREDICTION_DRIFT,
        passed=not moved,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(moved)} of {len(measured)} windows' scores drifted; latest "
        f"{prediction.get('method')} {significant(prediction.get('score'))}, PSI {significant(prediction.get('psi'))}",
    )
    labelled = [
        (m, d)
        for m, d in measured
        if m.realized is not None and (data_through is None or m.evidence.end > data_through)
    ]
    degraded = [m for m, d in labelled if d.degraded]
    yield dg.AssetCheckResult(
        check_name=NO_PERFORMANCE_DROP,
        passed=not degraded,
        description=(
            f"{len(degraded)} of {len(labelled)} labelled windows below the expected "
            f"{metric_name} {expected.metric:.4f} by more than max({spec.drift.max_metric_drop}, its "
            f"spread {expected.metric_spread:.4f}); latest realized {metric_name} "
            f"{labelled[-1][0].realized:.4f}"
            if labelled and expected.metric is not None
            else "no labelled window after the champion's training set yet"
        ),
    )
