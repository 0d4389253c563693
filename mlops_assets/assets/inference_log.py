"""The inference_log asset: the online service's scored rows, one window at a time.

`mlops serve` appends every scored request row to a landing Delta table
(`<Delta root>/<spec>/_landing/inference_log`, see `mlops_assets/online/inference_log.py`).
Materializing a window copies that window's rows (by the rows' event time, the
partitions of `features`) into this asset's table, so online traffic has the
same versioned, partitioned shape as the batch tables and the same monitoring
can read it. Rematerializing a window picks up rows that landed since; before
the first request the window is empty.
"""

import dagster as dg
import polars as pl

from mlops_assets.assets.metadata import milliseconds, partition_count, table_metadata
from mlops_assets.assets.naming import DELTA_IO_MANAGER, SpecAssets
from mlops_assets.online.inference_log import (
    LATENCY_SECONDS,
    LOG_COLUMNS,
    MODEL_VERSION,
    REQUEST_ID,
    REQUEST_TIME,
    empty_log,
    landing_table,
)
from mlops_assets.versioning import content_hash
from resources.delta_store import DeltaStore


def _latency_ms(frame: pl.DataFrame, q: float) -> float:
    latencies = frame[LATENCY_SECONDS].drop_nulls()
    return float(latencies.quantile(q, "linear")) * 1000 if latencies.len() else float("nan")


def build_inference_log_asset(names: SpecAssets) -> dg.AssetsDefinition:
    spec = names.spec
    landing = landing_table(spec.name)

    @dg.asset(
        **names.asset_args(names.key("inference_log"), "inference_log2"),
        kinds={"polars", "deltalake"},
        partitions_def=names.partitions_def,
        backfill_policy=names.backfill_policy,
        io_manager_key=DELTA_IO_MANAGER,
        description=f"Every row `mlops serve --spec {spec.name}` scored, shaped like `features` "
        "plus the model's answer, the model version and the request (id, arrival, latency).",
    )
    def inference_log(
        context: dg.AssetExecutionContext, delta: DeltaStore
    ) -> dg.Output[pl.DataFrame]:
        """The online service's scored rows of this window, from its landing table."""
        landed = delta.version(landing)
        if landed is None:
            context.log.warning(
                f"{spec.name}: no online traffic logged yet ({delta.table_uri(landing)} does not "
                f"exist; `mlops serve --spec {spec.name}` creates it): the window is empty"
            )
            frame = empty_log(spec.is_partitioned)
        else:
            window = context.partition_time_window if names.partitions_def is not None else None
            frame = delta.scan(landing, window).collect()
        context.log.info(f"{spec.name}: {frame.height} online rows in this window")
        versions = sorted(frame[MODEL_VERSION].unique().drop_nulls().to_list(), key=int)
        target = spec.target.column
        labelled = int(frame[target].is_not_null().sum()) if target in frame.columns else 0
        return dg.Output(
            frame,
            data_version=dg.DataVersion(content_hash(frame)),
            metadata={
                **table_metadata(frame, spec, LOG_COLUMNS, partitions=partition_count(context)),
                "requests": dg.MetadataValue.int(
                    frame[REQUEST_ID].n_unique() if frame.height else 0
                ),
                "model_versions": dg.MetadataValue.json(versions),
                "labelled_rows": dg.MetadataValue.int(labelled),
                "latency_p50_ms": milliseconds(_latency_ms(frame, 0.5)),
                "latency_p95_ms": milliseconds(_latency_ms(frame, 0.95)),
                "latency_p99_ms": milliseconds(_latency_ms(frame, 0.99)),
                "first_request": dg.MetadataValue.text(str(frame[REQUEST_TIME].min())),
                "last_request": dg.MetadataValue.text(str(frame[REQUEST_TIME].max())),
                "landing_table": dg.MetadataValue.path(delta.table_uri(landing)),
                "landing_delta_version": dg.MetadataValue.int(-1 if landed is None else landed),
            },
        )

    return inference_log
