"""The policy backtest asset: how never, scheduled and drift-triggered retraining would have done."""

import tempfile
from pathlib import Path

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import (
    inline_figure,
    metric,
    mlflow_link,
    records_table,
    table_metadata,
)
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.backtest.replay import (
    POLICIES,
    BacktestSettings,
    metric_plot_png,
    replay_policy,
    summarize,
)
from mlops_assets.drift import DriftSettings
from mlops_assets.evaluation import PRIMARY_METRIC
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore
from resources.mlflow_tracking import MlflowTracking

SUMMARY_COLUMNS = {
    "policy": "Retraining policy replayed: never, schedule (every schedule_every partitions) or drift",
    "partitions": "Partitions replayed after the warm-up",
    "retrains": "Challengers trained",
    "promotions": "Challengers the promotion gate let through",
    "mean_metric": "Mean realized primary metric over the replayed partitions",
    "worst_metric": "Worst partition's realized primary metric",
    "train_seconds": "Seconds spent training (s)",
    "compute_seconds": "Seconds spent training and monitoring (s)",
}
RETRAIN_COLUMNS = {
    "policy": "Policy that retrained",
    "partition": "Partition after which it retrained",
    "reason": "Why, in words",
}
PLOT_FILE = "policy_backtest.png"


class BacktestConfig(dg.Config):
    """Which policies to replay, and how."""

    policies: list[str] = list(POLICIES)
    warmup_partitions: int | None = None
    """Windows the first model learns from; unset: 60, or half of a shorter history."""
    schedule_every: int = 7


def build_backtest_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    metric_name, _ = PRIMARY_METRIC[spec.target.task]

    @dg.asset(
        **{
            **names.asset_args(names.key("policy_backtest"), "backtest1"),
            "group_name": names.backtest_group,
        },
        kinds={"lightgbm", "polars", "deltalake"},
        deps=[names.features],
        io_manager_key=DELTA_IO_MANAGER,
        description="Replays history partition by partition under each retraining policy: "
        "retrains (when and why), realized metric and compute spent.",
    )
    def policy_backtest(
        context: dg.AssetExecutionContext,
        config: BacktestConfig,
        delta: DeltaStore,
        mlflow_tracking: MlflowTracking,
    ) -> dg.Output[pl.DataFrame]:
        """Per policy and partition: the metric the model of the day reached, and every retrain with its reason."""
        features = delta.read(names.features)
        settings = BacktestSettings(config.warmup_partitions, config.schedule_every)
        results = []
        for policy in config.policies:
            context.log.info(
                f"{spec.name}: replaying policy {policy} over {features['_partition'].n_unique()} partitions"
            )
            results.append(
                replay_policy(spec, features, policy, DriftSettings.from_spec(spec), settings)
            )
        table = pl.concat(results)
        summary = summarize(table)
        retrains = table.filter(pl.col("retrained")).select("policy", "partition", "reason")
        run_id, run_url = log_backtest_run(
            mlflow_tracking,
            spec.name,
            context.run_id,
            config,
            summary,
            metric_plot_png(table, metric_name),
        )
        metadata = {
            **table_metadata(table, spec),
            "summary": records_table(summary, SUMMARY_COLUMNS),
            "retrains": records_table(retrains, RETRAIN_COLUMNS)
            if retrains.height
            else dg.MetadataValue.text("no policy retrained"),
            "mlflow_run": mlflow_link(run_url, run_id),
            "figure_metric_by_policy": inline_figure(
                f"{metric_name} by policy", mlflow_tracking.artifact_file_url(run_id, PLOT_FILE)
            ),
        }
        for row in summary.iter_rows(named=True):
            metadata[f"{row['policy']}_mean_{metric_name}"] = metric(row["mean_metric"])
            metadata[f"{row['policy']}_retrains"] = dg.MetadataValue.int(int(row["retrains"]))
            metadata[f"{row['policy']}_compute_seconds"] = metric(row["compute_seconds"])
        return dg.Output(table, data_version=dg.DataVersion(content_hash(table)), metadata=metadata)

    return policy_backtest


def log_backtest_run(
    mlflow_tracking: MlflowTracking,
    spec_name: str,
    dagster_run_id: str,
    config: BacktestConfig,
    summary: pl.DataFrame,
    png: bytes,
) -> tuple[str, str]:
    """One MLflow run per backtest in the spec's experiment (tag mlops.kind=policy_backtest):
    its settings, each policy's figures, the plot and the summary. Returns its id and link."""
    from mlflow.entities import Metric, Param

    client = mlflow_tracking.client()
    experiment_id = mlflow_tracking.experiment_id(spec_name)
    run = client.create_run(
        experiment_id,
        run_name=f"policy backtest {dagster_run_id[:8]}",
        tags={"mlops.kind": "policy_backtest", "dagster.run_id": dagster_run_id},
    )
    run_id = run.info.run_id
    metrics = [
        Metric(f"{row['policy']}_{name}", float(row[name]), 0, 0)
        for row in summary.iter_rows(named=True)
        for name in ("mean_metric", "worst_metric", "retrains", "compute_seconds")
        if row[name] is not None
    ]
    params = [
        Param("policies", ",".join(config.policies)),
        Param("warmup_partitions", str(config.warmup_partitions or "default")),
        Param("schedule_every", str(config.schedule_every)),
    ]
    client.log_batch(run_id, metrics=metrics, params=params)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / PLOT_FILE).write_bytes(png)
        summary.write_csv(Path(folder) / "summary.csv")
        client.log_artifacts(run_id, folder)
    client.set_terminated(run_id)
    return run_id, mlflow_tracking.run_url(experiment_id, run_id)
