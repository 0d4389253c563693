"""Train/valid/test windows and the categorical encoding of feature rows."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from mlops_assets.ingest.raw_batch import EVENT_TIME, PARTITION
from mlops_assets.specs.model import DatasetSpec
from mlops_assets.training.encoding import SMALL_FRAME_ROWS, FeatureEncoding
from mlops_assets.training.split import ROW_KEY, SPLIT, assign_split

START = dt.date(2024, 1, 1)


def make_spec(**fields: Any) -> DatasetSpec:
    data: dict[str, Any] = {
        "name": "unit",
        "source": {"uri": "unit.csv"},
        "target": {"column": "y", "task": "binary"},
    }
    data.update(fields)
    return DatasetSpec.model_validate(data)


def timed_spec(**split: Any) -> DatasetSpec:
    return make_spec(time={"column": "ts", "start": START.isoformat()}, split=split)


def timed_frame(days: int, rows_per_day: int = 6, seed: int = 0) -> pl.DataFrame:
    """Rows spread over `days` daily partitions, deliberately not in time order."""
    rng = np.random.default_rng(seed)
    times = [
        dt.datetime.combine(START + dt.timedelta(days=d), dt.time(int(h)))
        for d in range(days)
        for h in rng.integers(0, 24, rows_per_day)
    ]
    frame = pl.DataFrame(
        {
            "id": np.arange(len(times)),
            EVENT_TIME: pl.Series(times, dtype=pl.Datetime("us")),
            "x": rng.normal(size=len(times)),
            "y": rng.integers(0, 2, len(times)),
        }
    ).with_columns(pl.col(EVENT_TIME).dt.date().alias(PARTITION))
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def assert_test_is_latest(frame: pl.DataFrame) -> None:
    test = frame.filter(pl.col(SPLIT) == "test")
    earlier = frame.filter(pl.col(SPLIT) != "test")
    assert test[EVENT_TIME].min() > earlier[EVENT_TIME].max()
    valid = frame.filter(pl.col(SPLIT) == "valid")
    train = frame.filter(pl.col(SPLIT) == "train")
    assert valid[EVENT_TIME].min() > train[EVENT_TIME].max()


def split_counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by(SPLIT).len().iter_rows())


# --- split by time ------------------------------------------------------------------------


def test_time_split_with_explicit_dates() -> None:
    spec = timed_spec(valid_start="2024-01-15", test_start="2024-01-22")
    frame, windows = assign_split(spec, timed_frame(days=30))
    assert_test_is_latest(frame)
    counts = split_counts(frame)
    assert counts == {"train": 14 * 6, "valid": 7 * 6, "test": 9 * 6}
    assert frame.filter(pl.col(SPLIT) == "test")[PARTITION].min() == dt.date(2024, 1, 22)
    assert frame.filter(pl.col(SPLIT) == "valid")[PARTITION].min() == dt.date(2024, 1, 15)
    assert windows == {
        "train": "< 2024-01-15",
        "valid": "2024-01-15 .. 2024-01-22",
        "test": ">= 2024-01-22",
    }
    # Sorted by time, so the frame reads in the order things happened.
    assert frame[EVENT_TIME].is_sorted()


def test_time_split_by_fractions() -> None:
    spec = timed_spec(valid_fraction=0.15, test_fraction=0.2)
    days = 20
    frame, _ = assign_split(spec, timed_frame(days=days))
    assert_test_is_latest(frame)
    n_test, n_valid = math.ceil(days * 0.2), math.ceil(days * 0.15)
    test_parts = frame.filter(pl.col(SPLIT) == "test")[PARTITION].unique()
    valid_parts = frame.filter(pl.col(SPLIT) == "valid")[PARTITION].unique()
    assert test_parts.len() == n_test
    assert valid_parts.len() == n_valid
    assert split_counts(frame)["train"] == (days - n_test - n_valid) * 6
    assert frame.height == days * 6
    assert frame[ROW_KEY].dtype == pl.Int64


@pytest.mark.parametrize("days", [3, 4, 5])
def test_time_split_by_fractions_with_few_partitions_is_never_empty(days: int) -> None:
    spec = timed_spec(valid_fraction=0.45, test_fraction=0.45)
    frame, _ = assign_split(spec, timed_frame(days=days, rows_per_day=2))
    assert_test_is_latest(frame)
    assert set(split_counts(frame)) == {"train", "valid", "test"}
    assert min(split_counts(frame).values()) > 0


@pytest.mark.parametrize("days", [1, 2])
def test_time_split_needs_three_partitions(days: int) -> None:
    with pytest.raises(ValueError, match="at least 3 windows") as info:
        assign_split(timed_spec(), timed_frame(days=days))
    assert f"found {days}" in str(info.value)


def test_time_split_with_dates_leaving_a_split_empty_errors() -> None:
    spec = timed_spec(valid_start="2024-03-01", test_start="2024-04-01")
    with pytest.raises(ValueError, match="the valid split is empty"):
        assign_split(spec, timed_frame(days=10))


def test_time_split_is_independent_of_input_order() -> None:
    spec = timed_spec()
    frame = timed_frame(days=12)
    first, _ = assign_split(spec, frame)
    second, _ = assign_split(spec, frame.sample(fraction=1.0, shuffle=True, seed=99))
    assert first.equals(second)


def test_time_split_with_only_test_start() -> None:
    spec = timed_spec(test_start="2024-01-11")
    frame, _ = assign_split(spec, timed_frame(days=30))
    assert_test_is_latest(frame)
    assert frame.filter(pl.col(SPLIT) == "test")[PARTITION].min() == dt.date(2024, 1, 11)


# --- random split -------------------------------------------------------------------------


def random_frame(rows: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.normal(size=rows),
            "c": rng.choice(["a", "b", "c"], rows),
            "y": rng.integers(0, 2, rows),
        }
    )


def test_random_split_is_the_same_whatever_the_row_order() -> None:
    spec = make_spec()
    frame = random_frame(2000)
    first, _ = assign_split(spec, frame)
    second, _ = assign_split(spec, frame.sample(fraction=1.0, shuffle=True, seed=5))
    third, _ = assign_split(spec, frame.reverse())
    by_id = first.select("id", SPLIT).sort("id")
    assert second.select("id", SPLIT).sort("id").equals(by_id)
    assert third.select("id", SPLIT).sort("id").equals(by_id)


def test_random_split_shares_match_fractions() -> None:
    spec = make_spec(split={"valid_fraction": 0.15, "test_fraction": 0.2})
    frame, windows = assign_split(spec, random_frame(5000))
    shares = {k: v / frame.height for k, v in split_counts(frame).items()}
    assert shares["test"] == pytest.approx(0.20, abs=0.025)
    assert shares["valid"] == pytest.approx(0.15, abs=0.025)
    assert shares["train"] == pytest.approx(0.65, abs=0.03)
    assert frame.height == 5000
    assert windows == {
        "train": "random 65% (seed 42, keyed on row content)",
        "valid": "random 15%",
        "test": "random 20%",
    }


def test_random_split_depends_on_seed() -> None:
    frame = random_frame(1000)
    one, _ = assign_split(make_spec(split={"seed": 1}), frame)
    two, _ = assign_split(make_spec(split={"seed": 2}), frame)
    joined = one.select("id", SPLIT).join(two.select("id", SPLIT), on="id")
    assert (joined[SPLIT] != joined[f"{SPLIT}_right"]).sum() > 100


def test_random_split_ignores_an_existing_split_column() -> None:
    spec = make_spec()
    frame = random_frame(500)
    first, _ = assign_split(spec, frame)
    again, _ = assign_split(spec, first.drop(ROW_KEY))
    assert again.select("id", SPLIT).sort("id").equals(first.select("id", SPLIT).sort("id"))


def test_random_split_is_used_when_time_spec_has_no_partition_column() -> None:
    spec = timed_spec()
    frame, windows = assign_split(spec, random_frame(1000))
    assert windows["valid"] == "random 15%"
    assert set(split_counts(frame)) == {"train", "valid", "test"}


def test_random_split_keyed_on_ids_keeps_every_row_in_its_split_when_a_column_is_added() -> None:
    spec = make_spec(id_columns=["id"])
    frame = random_frame(3000)
    before, windows = assign_split(spec, frame)
    widened = frame.with_columns((pl.col("x") * 2).alias("new_feature"))
    after, _ = assign_split(spec, widened)
    by_id = before.select("id", SPLIT).sort("id")
    assert after.select("id", SPLIT).sort("id").equals(by_id)
    assert "keyed on id" in windows["train"]


def test_random_split_on_content_reshuffles_when_a_column_is_added() -> None:
    """Why ids matter: without them the key is the row's content, and a new column moves rows."""
    frame = random_frame(3000)
    before, _ = assign_split(make_spec(), frame)
    after, _ = assign_split(make_spec(), frame.with_columns(pl.lit(1).alias("new_feature")))
    joined = before.select("id", SPLIT).join(after.select("id", SPLIT), on="id")
    assert (joined[SPLIT] != joined[f"{SPLIT}_right"]).sum() > 300


def test_declared_split_key_is_used_and_must_exist() -> None:
    spec = make_spec(split={"key": ["c", "id"]}, id_columns=["x"])
    _, windows = assign_split(spec, random_frame(1000))
    assert "keyed on c, id" in windows["train"]
    with pytest.raises(ValueError, match=r"split.key column\(s\) \['c'\]"):
        assign_split(spec, random_frame(1000).drop("c"))


def test_random_split_of_too_few_rows_errors() -> None:
    with pytest.raises(ValueError, match="split is empty"):
        assign_split(make_spec(), random_frame(1))


# --- encoding -----------------------------------------------------------------------------

TRAIN = pl.DataFrame(
    {
        "color": ["red", "blue", "red", None, "green"],
        "size": [1.5, 2.0, None, 4.0, 5.0],
        "code": [10, 2, 10, 2, 1],
        "label": ["cat", "dog", "cat", "bird", "dog"],
    }
)


def fitted(task: str = "multiclass") -> FeatureEncoding:
    return FeatureEncoding.fit(TRAIN, ["color", "size", "code"], ["color", "code"], task, "label")


def test_fit_learns_sorted_vocabulary_and_classes() -> None:
    encoding = fitted()
    assert encoding.vocabulary == {"color": ["blue", "green", "red"], "code": ["1", "10", "2"]}
    assert encoding.classes == ["bird", "cat", "dog"]
    assert fitted("binary").classes == []


def test_matrix_codes_categories_and_passes_numbers_through() -> None:
    encoding = fitted()
    frame = pl.DataFrame(
        {
            "code": [2, 10, 99, None],
            "size": [0.25, None, 7.0, 1.0],
            "color": ["red", "purple", None, "blue"],
            "extra": ["ignored"] * 4,
        }
    )
    matrix = encoding.matrix(frame)
    assert matrix.dtype == np.float64
    assert matrix.shape == (4, 3)
    expected = np.array(
        [
            [2.0, 0.25, 2.0],
            [np.nan, np.nan, 1.0],
            [np.nan, 7.0, np.nan],
            [0.0, 1.0, np.nan],
        ]
    )
    np.testing.assert_array_equal(matrix, expected)


def test_matrix_of_a_few_rows_equals_the_query_encoding_of_many() -> None:
    """Online micro-batches are encoded column by column, larger frames by one polars query:
    the same rows give the same matrix either way (unseen, null, NaN, text and boolean values)."""
    encoding = FeatureEncoding.fit(
        pl.DataFrame(
            {
                "code": [1, 2, 10, 2],
                "size": [0.5, 1.0, 2.0, 3.0],
                "flag": [True, False, True, None],
                "color": ["red", "blue", "green", "red"],
                "y": [0, 1, 0, 1],
            }
        ),
        ["code", "size", "flag", "color"],
        ["code", "color"],
        "binary",
        "y",
    )
    few = pl.DataFrame(
        {
            "code": [2, 10, 99, None, 1],
            "size": [0.25, None, float("nan"), -1.0, 1e9],
            "flag": [True, None, False, True, False],
            "color": ["red", "purple", None, "blue", "RED"],
        }
    )
    many = pl.concat([few] * (SMALL_FRAME_ROWS // few.height + 1))
    assert few.height <= SMALL_FRAME_ROWS < many.height
    np.testing.assert_array_equal(encoding.matrix(few), encoding.matrix(many)[: few.height])
    assert np.isnan(encoding.matrix(few)).sum() == 8  # 2 codes, 2 sizes, 1 flag, 3 colours


def test_matrix_requires_every_feature() -> None:
    with pytest.raises(ValueError, match=r"\['size'\]"):
        fitted().matrix(TRAIN.drop("size"))


def test_unseen_categories_counts() -> None:
    encoding = fitted()
    frame = pl.DataFrame(
        {
            "color": ["red", "purple", "purple", None, "Blue"],
            "code": [1, 2, 10, None, 2],
            "size": [1.0] * 5,
        }
    )
    assert encoding.unseen_categories(frame) == {"color": 3}
    assert encoding.unseen_categories(TRAIN) == {}


def test_multiclass_labels_map_unseen_to_minus_one() -> None:
    encoding = fitted()
    frame = pl.DataFrame({"label": ["dog", "bird", "fish", "cat"]})
    labels = encoding.labels(frame, "label")
    assert labels.tolist() == [2, 0, -1, 1]
    assert labels.dtype == np.int64


def test_binary_and_regression_labels() -> None:
    binary = FeatureEncoding.fit(pl.DataFrame({"f": [1, 2], "y": [0, 1]}), ["f"], [], "binary", "y")
    assert binary.labels(
        pl.DataFrame({"y": pl.Series([1, 0, 1], dtype=pl.Int8)}), "y"
    ).tolist() == [1, 0, 1]
    regression = FeatureEncoding.fit(
        pl.DataFrame({"f": [1, 2], "y": [0.5, 1.5]}), ["f"], [], "regression", "y"
    )
    values = regression.labels(pl.DataFrame({"y": [1, 2]}), "y")
    assert values.dtype == np.float64
    assert values.tolist() == [1.0, 2.0]


def test_encoding_round_trips_through_dict() -> None:
    encoding = fitted()
    again = FeatureEncoding.from_dict(encoding.to_dict())
    assert again == encoding
    frame = TRAIN.with_columns(pl.col("color").fill_null("purple"))
    np.testing.assert_array_equal(again.matrix(frame), encoding.matrix(frame))
