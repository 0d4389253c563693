"""Multiclass and regression models served, and personal data hashed: answers per task equal the
batch predictions of the same rows, in /predict, in v2 tensors and in the inference log."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tests.conftest import customers_table
from tests.online.conftest import json_rows, raw_rows, serving

pytestmark = pytest.mark.slow


def _landing(platform, spec: str) -> pl.DataFrame:
    return pl.read_delta(str(platform.home / "tables" / spec / "_landing" / "inference_log"))


def test_a_multiclass_model_answers_class_probabilities_and_the_most_probable_class(platform):
    rng = np.random.default_rng(5)
    for part in range(2):
        x = rng.normal(size=(400, 2))
        label = np.where(x[:, 0] > 0.5, "high", np.where(x[:, 0] < -0.5, "low", "mid"))
        pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": label}).write_parquet(
            platform.data / f"part{part}.parquet"
        )
    platform.write_spec(
        {
            "name": "levels",
            "source": {"uri": str(platform.data / "part*.parquet")},
            "target": {"column": "label", "task": "multiclass"},
            "training": {"num_boost_round": 100, "early_stopping_rounds": 10},
        }
    )
    assert platform.run("levels")["success"]
    batch = pl.read_delta(str(platform.home / "tables" / "levels" / "predictions"))
    features = pl.read_delta(str(platform.home / "tables" / "levels" / "features"))
    rows = json_rows(raw_rows(platform, "levels").drop("label").head(30))
    with serving("levels") as service:
        service.wait_ready()
        status, answer = service.post("/predict", {"rows": rows})
        assert status == 200, answer
        inputs = [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": [r[c] for r in rows]}
            for c in ("a", "b")
        ]
        status, v2 = service.post("/v2/models/levels_model/infer", {"inputs": inputs})
        assert status == 200, v2
        _, meta = service.get("/v2/models/levels_model")
    classes = ["high", "low", "mid"]
    assert meta["outputs"] == [
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
    ]
    scored = features.select("a", "b").with_columns(
        batch.select("prediction", *[f"score_{c}" for c in classes])
    )
    expected = {(r["a"], r["b"]): r for r in scored.iter_rows(named=True)}
    for row, prediction in zip(rows, answer["predictions"], strict=True):
        mine = expected[(row["a"], row["b"])]
        assert prediction["probabilities"] == {c: mine[f"score_{c}"] for c in classes}
        assert (
            prediction["label"]
            == mine["prediction"]
            == max(classes, key=prediction["probabilities"].get)
        )
    probabilities, labels = v2["outputs"]
    assert probabilities["shape"] == [len(rows), 3]
    assert probabilities["parameters"] == {"classes": "high,low,mid"}
    flat = [prediction["probabilities"][c] for prediction in answer["predictions"] for c in classes]
    assert probabilities["data"] == flat
    assert labels["data"] == [prediction["label"] for prediction in answer["predictions"]]
    log = _landing(platform, "levels")
    assert log.height == 2 * len(rows)
    assert {"prediction", "score_high", "score_low", "score_mid"} <= set(log.columns)
    assert log["prediction"].dtype == pl.String


def test_a_regression_model_answers_values_from_decimal_comma_text_and_a_time_format(platform):
    rng = np.random.default_rng(3)
    days = pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 3, 31), eager=True)
    when = np.repeat(days.to_numpy(), 10)
    n = len(when)
    size = rng.uniform(30, 200, n)
    region = rng.choice(["north", "south", "east"], n)
    price = 1000 + 12 * size + np.where(region == "south", 400, 0) + rng.normal(0, 50, n)
    path = platform.data / "houses.csv"
    pl.DataFrame(
        {
            "sold_on": [
                d.strftime("%d/%m/%Y") for d in when.astype("datetime64[D]").astype(object)
            ],
            "size_m2": [f"{v:.1f}".replace(".", ",") for v in size],
            "region": region,
            "price": [f"{v:.2f}".replace(".", ",") for v in price],
        }
    ).write_csv(path, separator=";")
    platform.write_spec(
        {
            "name": "house_prices",
            "source": {"uri": str(path), "csv": {"separator": ";", "decimal_comma": True}},
            "target": {"column": "price", "task": "regression"},
            "time": {
                "column": "sold_on",
                "format": "%d/%m/%Y",
                "grain": "weekly",
                "start": "2024-01-01",
                "end": "2024-04-01",
            },
            "columns": {"size_m2": {"dtype": "float", "min": 0}, "price": {"dtype": "float"}},
            "training": {"num_boost_round": 100, "early_stopping_rounds": 10},
        }
    )
    assert platform.run("house_prices")["success"]
    raw = raw_rows(platform, "house_prices").head(40)
    with serving("house_prices") as service:
        service.wait_ready()
        status, answer = service.post("/predict", {"rows": json_rows(raw.drop("price"))})
        assert status == 200, answer
        bad = json_rows(raw.head(1).drop("price").with_columns(pl.lit("-3,0").alias("size_m2")))
        status, refused = service.post("/predict", {"rows": bad})
        _, meta = service.get("/v2/models/house_prices_model")
    assert status == 422
    assert [(e["row"], e["column"], e["rule"]) for e in refused["errors"]] == [
        (0, "size_m2", "greater_than_or_equal_to(0.0)")
    ]
    assert meta["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1]}]
    features = pl.read_delta(str(platform.home / "tables" / "house_prices" / "features"))
    batch = pl.read_delta(str(platform.home / "tables" / "house_prices" / "predictions"))
    expected = dict(
        zip(
            zip(features["_event_time"], features["size_m2"], features["region"], strict=True),
            batch["prediction"],
            strict=True,
        )
    )
    text = raw.with_columns(
        pl.col("sold_on").str.strptime(pl.Datetime("us"), "%d/%m/%Y").alias("_event_time"),
        pl.col("size_m2").str.replace(",", ".").cast(pl.Float64),
    )
    keys = zip(text["_event_time"], text["size_m2"], text["region"], strict=True)
    assert [p["value"] for p in answer["predictions"]] == [expected[k] for k in keys]
    log = _landing(platform, "house_prices")
    assert log.height == 40 and log["price"].null_count() == 40
    assert log["_partition"].unique().to_list() == [dt.date(2024, 1, 1)]  # the week of Jan 1


def test_a_spec_that_hashes_personal_data_needs_its_key_to_serve(platform, monkeypatch):
    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.online.server import build_service
    from mlops_assets.specs import find_spec

    customers_table(400).write_csv(platform.data / "customers.csv")
    platform.write_spec(
        {
            "name": "churn_hashed",
            "source": {"uri": str(platform.data / "customers.csv")},
            "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
            "id_columns": ["customer_id"],
            "pii": {"columns": ["email"], "action": "hash"},
        }
    )
    spec = find_spec("churn_hashed")
    monkeypatch.delenv("MLOPS_PII_KEY", raising=False)
    with pytest.raises(ValueError, match="set MLOPS_PII_KEY"):
        build_service(spec, SpecAssets(spec).raw)
    monkeypatch.setenv("MLOPS_PII_KEY", "test-secret-key")
    service = build_service(spec, SpecAssets(spec).raw)
    assert service.schema.columns["email"].role == "personal_data"
    assert not service.schema.columns["email"].required
