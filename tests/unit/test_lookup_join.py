"""A lookup join of a few rows (the dictionary path online requests take) gives exactly what
polars' left join gives: the same rows, columns, types and nulls."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.features.build import INDEXED_JOIN_ROWS, LookupTable

codes = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
numbers = st.one_of(st.none(), st.integers(0, 4))


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(numbers, codes, st.floats(allow_nan=False) | st.none()), max_size=15),
    st.lists(st.tuples(numbers, codes), max_size=25),
)
def test_the_dictionary_join_equals_the_left_join(table_rows, frame_rows):
    table = (
        pl.DataFrame(
            table_rows, schema={"n": pl.Int64, "c": pl.String, "x_v": pl.Float64}, orient="row"
        )
        .sort(["n", "c"], nulls_last=True)
        .unique(subset=["n", "c"], keep="first", maintain_order=True)
    )
    frame = pl.DataFrame(frame_rows, schema={"n": pl.Int64, "c": pl.String}, orient="row")
    frame = frame.with_row_index("id")
    lookup = LookupTable(["n", "c"], table)
    assert frame.height <= INDEXED_JOIN_ROWS
    joined = lookup.joined_to(frame)
    expected = frame.join(table, on=["n", "c"], how="left", coalesce=True)
    assert joined.schema == expected.schema
    assert joined.sort("id").equals(expected.sort("id"))
    assert joined["id"].to_list() == frame["id"].to_list()  # and the rows keep their order


def test_float_keys_and_large_frames_take_the_hash_join():
    table = pl.DataFrame({"k": [0.5, 1.5], "x_v": [1, 2]})
    lookup = LookupTable(["k"], table)
    frame = pl.DataFrame({"k": [1.5, float("nan"), 0.5]})
    assert lookup.joined_to(frame).equals(frame.join(table, on="k", how="left", coalesce=True))
    big = pl.DataFrame({"n": list(range(INDEXED_JOIN_ROWS + 1))})
    ints = LookupTable(["n"], pl.DataFrame({"n": [3], "x_v": ["three"]}))
    assert ints.joined_to(big).sort("n")["x_v"].to_list()[3] == "three"
