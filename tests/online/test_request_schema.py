"""What a request row carries and how its values become a raw batch, on the flights spec's raw
schema and on hand-made ones; and how a request body is read into columns."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from mlops_assets.online.errors import RequestError
from mlops_assets.online.request_rows import MAX_ROWS, infer_rows, predict_rows
from mlops_assets.online.request_schema import request_schema
from mlops_assets.specs import DatasetSpec
from mlops_assets.specs.loader import load_spec_file
from tests.conftest import FLIGHTS_SPEC

# The flights raw table as the batch path writes it (declared columns as text).
FLIGHTS_RAW = pl.Schema(
    {
        **dict.fromkeys(("year", "month", "day", "dep_time", "dep_delay", "arr_time"), pl.Int64),
        "sched_dep_time": pl.String,
        "sched_arr_time": pl.String,
        "arr_delay": pl.String,
        "carrier": pl.String,
        "flight": pl.String,
        "tailnum": pl.String,
        "origin": pl.String,
        "dest": pl.String,
        "air_time": pl.Int64,
        "distance": pl.String,
        "hour": pl.String,
        "minute": pl.String,
        "time_hour": pl.String,
        "_event_time": pl.Datetime("us"),
        "_partition": pl.Date,
    }
)
AT = dt.datetime(2026, 3, 4, 5, 6, 7)


def test_flights_rows_need_their_inputs_and_keys_and_may_leave_out_time_label_and_leaks():
    schema = request_schema(load_spec_file(FLIGHTS_SPEC), FLIGHTS_RAW)
    assert list(schema.columns) == [c for c in FLIGHTS_RAW.names() if not c.startswith("_")]
    roles = {name: column.role for name, column in schema.columns.items()}
    assert {n for n, r in roles.items() if r == "time"} == {
        "year",
        "month",
        "day",
        "hour",
        "minute",
    }
    assert roles["arr_delay"] == "label"
    assert {n for n, r in roles.items() if r == "excluded"} == {
        "dep_time",
        "dep_delay",
        "arr_time",
        "air_time",
        "time_hour",
    }
    assert roles["tailnum"] == roles["origin"] == "join_key"
    assert schema.required == [
        "sched_dep_time",
        "sched_arr_time",
        "carrier",
        "flight",
        "tailnum",
        "origin",
        "dest",
        "distance",
    ]
    v2 = {name: column.v2_datatype for name, column in schema.columns.items()}
    assert v2["distance"] == "FP64" and v2["flight"] == "INT64" and v2["carrier"] == "BYTES"
    assert v2["year"] == "INT64" and v2["time_hour"] == "BYTES"


def test_a_row_without_time_happened_at_the_request_time():
    spec = load_spec_file(FLIGHTS_SPEC)
    schema = request_schema(spec, FLIGHTS_RAW)
    filled = schema.filled({"year": [2013, None], "hour": ["9", None]}, 2, AT)
    assert filled["year"] == [2013, 2026] and filled["month"] == [3, 3] and filled["day"] == [4, 4]
    assert filled["hour"] == ["9", 5] and filled["minute"] == [6, 6]
    assert filled["carrier"] == [None, None]
    raw, errors = schema.raw_batch(filled)
    assert errors == []
    assert raw["year"].to_list() == [2013, 2026] and raw.schema["year"] == pl.Int64
    assert raw["hour"].to_list() == ["9", "5"] and raw.schema["hour"] == pl.String

    timed = DatasetSpec.model_validate(
        {
            "name": "timed",
            "source": {"uri": "t.csv"},
            "target": {"column": "y", "task": "regression"},
            "time": {"column": "at", "format": "%d/%m/%Y %H:%M", "start": "2026-01-01"},
        }
    )
    schema = request_schema(timed, pl.Schema({"at": pl.String, "y": pl.String}))
    assert schema.filled({}, 1, AT)["at"] == ["04/03/2026 05:06"]


@pytest.mark.parametrize(
    "dtype, given, typed",
    [
        (pl.Int64, [7, "8", " 9 ", 10.0, "11.0", None], [7, 8, 9, 10, 11, None]),
        (pl.Float64, [1.5, "2", 3, None], [1.5, 2.0, 3.0, None]),
        (pl.Boolean, [True, "false", "1", None], [True, False, True, None]),
        (pl.Date, ["2024-01-02", None], [dt.date(2024, 1, 2), None]),
        (pl.String, ["a", 1, 2.5, True, None], ["a", "1", "2.5", "true", None]),
    ],
)
def test_values_take_the_type_the_batch_path_gave_their_column(dtype, given, typed):
    spec = DatasetSpec.model_validate(
        {
            "name": "types",
            "source": {"uri": "t.csv"},
            "target": {"column": "y", "task": "regression"},
        }
    )
    schema = request_schema(spec, pl.Schema({"v": dtype, "y": pl.String}))
    raw, errors = schema.raw_batch({"v": given, "y": [None] * len(given)})
    assert errors == []
    assert raw["v"].to_list() == typed and raw.schema["v"] == dtype


def test_a_value_that_does_not_fit_its_column_is_named_with_row_and_rule():
    spec = DatasetSpec.model_validate(
        {
            "name": "types",
            "source": {"uri": "t.csv"},
            "target": {"column": "y", "task": "regression"},
        }
    )
    schema = request_schema(spec, pl.Schema({"n": pl.Int64, "d": pl.Date, "y": pl.String}))
    _, errors = schema.raw_batch(
        {"n": [1, "1.5", "x"], "d": ["2024-01-01", None, "soon"], "y": [None] * 3}
    )
    assert [(e.row, e.column, e.rule, e.value) for e in errors] == [
        (1, "n", "dtype(int)", "1.5"),
        (2, "n", "dtype(int)", "x"),
        (2, "d", "dtype(date)", "soon"),
    ]


CHURN = DatasetSpec.model_validate(
    {
        "name": "churn",
        "source": {"uri": "c.csv"},
        "target": {"column": "churned", "task": "binary", "positive_label": "yes"},
        "id_columns": ["customer_id"],
        "pii": {"columns": ["email"]},
    }
)
CHURN_RAW = pl.Schema(
    {"customer_id": pl.Int64, "plan": pl.String, "churned": pl.String, "tenure_months": pl.Int64}
)


def test_predict_rows_name_unknown_and_missing_columns_by_row():
    schema = request_schema(CHURN, CHURN_RAW)
    assert schema.required == ["customer_id", "plan", "tenure_months"]
    rows = predict_rows(
        json.dumps(
            {"rows": [{"customer_id": 1, "plan": "a", "tenure_months": 3, "email": "x"}]}
        ).encode(),
        schema,
    )
    assert rows.height == 1 and rows.values["churned"] == [None] and rows.values["email"] == ["x"]
    with pytest.raises(RequestError) as refused:
        predict_rows(
            json.dumps(
                {
                    "rows": [
                        {"customer_id": 1, "plan": "a", "tenure_months": 3},
                        {"customer_id": 2, "colour": "red"},
                    ]
                }
            ).encode(),
            schema,
        )
    assert refused.value.status == 422
    assert [(e.row, e.column, e.rule) for e in refused.value.errors] == [
        (1, "colour", "column_known"),
        (1, "plan", "column_present"),
        (1, "tenure_months", "column_present"),
    ]
    with pytest.raises(RequestError) as too_many:
        predict_rows(json.dumps({"rows": [{}] * (MAX_ROWS + 1)}).encode(), schema)
    assert too_many.value.status == 413


def test_infer_rows_read_one_column_per_tensor():
    schema = request_schema(CHURN, CHURN_RAW)
    body = {
        "id": 7,
        "inputs": [
            {"name": "customer_id", "shape": [2], "datatype": "INT64", "data": [1, 2]},
            {"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": [["a"], ["b"]]},
            {"name": "tenure_months", "shape": [2], "datatype": "FP32", "data": [3, 4.0]},
        ],
        "outputs": [{"name": "label"}],
    }
    rows = infer_rows(json.dumps(body).encode(), schema)
    assert rows.height == 2 and rows.request_id == "7" and rows.outputs == ["label"]
    assert rows.values["plan"] == ["a", "b"] and rows.values["tenure_months"] == [3, 4.0]
    for change, message in [
        ({"datatype": "STRING"}, "not an Open Inference Protocol datatype"),
        ({"shape": [2, 2]}, "is not one column"),
        ({"data": [1, True]}, "a INT64 tensor holds bool values"),
        ({"data": [1, 2.5]}, "a INT64 tensor holds float values"),
    ]:
        broken = json.loads(json.dumps(body))
        broken["inputs"][0] |= change
        with pytest.raises(RequestError, match=message) as refused:
            infer_rows(json.dumps(broken).encode(), schema)
        assert refused.value.status == 400
    uneven = json.loads(json.dumps(body))
    uneven["inputs"][0] |= {"shape": [3], "data": [1, 2, 3]}
    with pytest.raises(RequestError, match="different numbers of rows"):
        infer_rows(json.dumps(uneven).encode(), schema)
