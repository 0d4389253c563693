"""Online and batch agree on the same rows: the flights slice (lookup joins, time parts, declared
text columns) materialized by the pipeline, then its raw rows sent to the online service."""

from __future__ import annotations

import dagster as dg
import mlflow
import polars as pl
import pytest
from prometheus_client import generate_latest

from tests.conftest import flights_slice_spec
from tests.online.conftest import json_rows, serving

pytestmark = pytest.mark.slow
REQUEST_ROWS = 100
# A flight: carrier, number, origin and scheduled departure (unique but for a few rows).
KEY = pl.concat_str(
    pl.col("carrier"),
    pl.col("flight").cast(pl.Int64).cast(pl.String),
    pl.col("origin"),
    pl.col("_event_time").cast(pl.String),
    separator="|",
).alias("_key")


def _table(platform, name: str) -> pl.DataFrame:
    return pl.read_delta(str(platform.home / "tables" / "flights_slice" / name))


def _scored_online(service, raw: pl.DataFrame) -> tuple[dict[str, float], int, str]:
    """Every raw row, sent in requests of 100. The rows a request is refused for are the ones its
    answer names; they are left out and the rest of the request is sent again."""
    keys = raw.select(KEY)["_key"].to_list()
    payload = json_rows(raw.drop("_event_time", "_partition", "_window", strict=False))
    scores, refused, version = {}, 0, ""
    for start in range(0, raw.height, REQUEST_ROWS):
        indexes = list(range(start, min(start + REQUEST_ROWS, raw.height)))
        while indexes:
            status, answer = service.post("/predict", {"rows": [payload[i] for i in indexes]})
            if status == 422:
                bad = {indexes[e["row"]] for e in answer["errors"]}
                assert bad, answer
                refused += len(bad)
                indexes = [i for i in indexes if i not in bad]
                continue
            assert status == 200, answer
            version = answer["model_version"]
            for i, prediction in zip(indexes, answer["predictions"], strict=True):
                scores[keys[i]] = prediction["probability"]
            break
    return scores, refused, version


def test_online_predictions_and_features_equal_the_batch_ones(platform):
    platform.write_spec(flights_slice_spec(end="2013-01-05"))
    summary = platform.run("flights_slice")
    assert summary["success"], summary
    raw = _table(platform, "raw")
    with serving("flights_slice", log_max_seconds=0.2) as service:
        service.wait_ready()
        online, refused, version = _scored_online(service, raw)
    assert version == str(summary["champion_version"])
    metrics = generate_latest(service.service.metrics.registry).decode()

    # The predictions asset scores the features table row by row, in its order.
    features, predictions = _table(platform, "features"), _table(platform, "predictions")
    assert features["_event_time"].to_list() == predictions["_event_time"].to_list()
    batch = features.with_columns(predictions["prediction"], KEY)
    batch = batch.filter(pl.col("_key").is_unique())
    assert batch.height > 0.95 * features.height
    assert {k: online[k] for k in batch["_key"]} == dict(
        zip(batch["_key"], batch["prediction"], strict=True)
    )

    # Online takes rows whose label is not known yet (the cancelled flights batch training
    # leaves out); the rows it refuses are exactly those that break another rule.
    rejected = _table(platform, "rejected_rows")
    assert (
        refused
        == rejected.filter(~pl.col("_rejection_reasons").str.contains("late_arrival")).height
    )

    # The logged rows are the batch features of the same flights, column by column.
    landing = _table(platform, "_landing/inference_log")
    log = landing.with_columns(KEY).filter(
        pl.col("_key").is_in(batch["_key"].implode()) & pl.col("late_arrival").is_not_null()
    )
    assert log.height == batch.height
    assert (
        log.select(features.columns)
        .sort("_event_time", "carrier", "flight")
        .equals(batch.select(features.columns).sort("_event_time", "carrier", "flight"))
    )

    # Unseen categories and out-of-range values are counted online as batch scoring counts them.
    model = mlflow.pyfunc.load_model(f"models:/flights_slice_model/{version}")
    encoding = model.unwrap_python_model().encoding
    event = platform.instance().get_latest_materialization_event(
        dg.AssetKey(["flights_slice", "predictions"])
    )
    metadata = event.asset_materialization.metadata
    # Batch scoring counts them on the rows the champion never trained on.
    unseen_keys = features.with_columns(KEY).filter(~predictions["in_training_data"])["_key"]
    monitored = log.filter(pl.col("_key").is_in(unseen_keys.implode()))
    assert monitored.height == metadata["monitored_rows"].value
    assert (
        sum(encoding.unseen_categories(monitored).values())
        == metadata["unseen_category_values"].value
    )
    assert sum(encoding.out_of_range(monitored).values()) == metadata["out_of_range_values"].value
    unseen = float(sum(encoding.unseen_categories(landing).values()))
    outside = float(sum(encoding.out_of_range(landing).values()))
    assert f'mlops_serving_unseen_category_values_total{{spec="flights_slice"}} {unseen}' in metrics
    assert f'mlops_serving_out_of_range_values_total{{spec="flights_slice"}} {outside}' in metrics
