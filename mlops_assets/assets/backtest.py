"""The policy backtest asset: how never, scheduled and drift-triggered retraining would have done."""

import base64

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.backtest.replay import (
    POLICIES,
    BacktestSettings,
    metric_plot_png,
    replay_policy,
    summarize,
)
from mlops_assets.drift import DriftSettings
from mlops_assets.evaluation import PRIMARY_METRIC, markdown_table
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore


class BacktestConfig(dg.Config):
    """Which policies to replay, and how."""

    policies: list[str] = list(POLICIES)
    warmup_partitions: int = 60
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
        context: dg.AssetExecutionContext, config: BacktestConfig, delta: DeltaStore
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
        png = base64.b64encode(metric_plot_png(table, metric_name)).decode()
        metadata = {
            **table_metadata(table, spec),
            "summary": dg.MetadataValue.md(markdown_table(summary)),
            "retrains": dg.MetadataValue.md(
                markdown_table(retrains.head(60)) if retrains.height else "_none_"
            ),
            "plot": dg.MetadataValue.md(f"![{metric_name} by policy](data:image/png;base64,{png})"),
        }
        for row in summary.iter_rows(named=True):
            metadata[f"{row['policy']}_mean_{metric_name}"] = dg.MetadataValue.float(
                float(row["mean_metric"])
            )
            metadata[f"{row['policy']}_retrains"] = dg.MetadataValue.int(int(row["retrains"]))
            metadata[f"{row['policy']}_compute_seconds"] = dg.MetadataValue.float(
                float(row["compute_seconds"])
            )
        return dg.Output(table, data_version=dg.DataVersion(content_hash(table)), metadata=metadata)

    return policy_backtest
