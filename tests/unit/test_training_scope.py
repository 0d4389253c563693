"""Which rows a model version trained on: by time, or by the keys of its random split."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.scope import ScopeError, TrainingScope
from mlops_assets.training.split import ROW_KEY, SPLIT, assign_split


def spec(**fields) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {"name": "unit", "source": {"uri": "u.csv"}, "target": {"column": "y", "task": "binary"}}
        | fields
    )


def table(rows: int = 2000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {"id": np.arange(rows), "x": rng.normal(size=rows), "y": rng.integers(0, 2, rows)}
    )


def test_a_random_split_model_saw_exactly_its_train_and_valid_rows():
    keyed = spec(id_columns=["id"])
    frame, _ = assign_split(keyed, table())
    scope = TrainingScope.of_training_set(keyed, frame)
    seen = scope.seen(frame.drop(SPLIT, ROW_KEY))
    assert seen.to_list() == (frame[SPLIT] != "test").to_list()


def test_the_scope_survives_its_tags_and_a_new_column():
    keyed = spec(id_columns=["id"])
    frame, _ = assign_split(keyed, table())
    learnt = frame.filter(pl.col(SPLIT) != "test")[ROW_KEY]
    again = TrainingScope.from_tags(TrainingScope.of_training_set(keyed, frame).tags(), learnt)
    widened = frame.with_columns(pl.lit(1.0).alias("new_feature"))
    test_ids = set(frame.filter(pl.col(SPLIT) == "test")["id"].to_list())
    assert set(again.unseen(widened)["id"].to_list()) == test_ids


def test_content_keys_still_match_when_a_column_is_added():
    content = spec()
    frame, _ = assign_split(content, table())
    scope = TrainingScope.of_training_set(content, frame)
    widened = frame.drop(SPLIT, ROW_KEY).with_columns(pl.lit("v2").alias("added"))
    assert scope.unseen(widened).height == (frame[SPLIT] == "test").sum()


def test_a_lost_key_column_is_an_error_naming_it():
    keyed = spec(id_columns=["id"])
    frame, _ = assign_split(keyed, table())
    scope = TrainingScope.of_training_set(keyed, frame)
    with pytest.raises(ScopeError, match=r"\['id'\].*split.key"):
        scope.seen(frame.drop("id"))


def test_a_time_split_model_saw_nothing_after_its_validation_window():
    start = dt.datetime(2024, 1, 1)
    times = [start + dt.timedelta(hours=6 * i) for i in range(40)]
    frame = pl.DataFrame(
        {EVENT_TIME: times, "x": range(40), "y": [i % 2 for i in range(40)]}
    ).with_columns(pl.col(EVENT_TIME).dt.date().alias(PARTITION))
    timed = spec(time={"column": "ts", "start": "2024-01-01"})
    split, _ = assign_split(timed, frame)
    scope = TrainingScope.of_training_set(timed, split)
    assert scope.trained_through == split.filter(pl.col(SPLIT) != "test")[EVENT_TIME].max()
    assert scope.unseen(split)[SPLIT].unique().to_list() == ["test"]
    assert TrainingScope.from_tags(scope.tags(), None).trained_through == scope.trained_through
