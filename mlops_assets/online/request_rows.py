"""A request body read into columns: `/predict` rows, or Open Inference Protocol input tensors.

Both give one list of values per request column (None where a row has no value).
A body that is not what the endpoint takes is a 400; a row that lacks a required
column, or names a column the spec does not have, is a 422 naming the row and
the column, like any other broken rule.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from mlops_assets.online.errors import RequestError, RowError, invalid_rows
from mlops_assets.online.request_schema import RequestSchema

MAX_ROWS = 10_000
COLUMN_PRESENT = "column_present"
COLUMN_KNOWN = "column_known"
V2_INTEGERS = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"})
V2_FLOATS = frozenset({"FP16", "FP32", "FP64"})
V2_DATATYPES = V2_INTEGERS | V2_FLOATS | {"BOOL", "BYTES"}


@dataclass
class RequestRows:
    """The rows of one request, column by column."""

    values: dict[str, list]
    height: int
    request_id: str | None = None
    outputs: list[str] | None = None


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not JSON: {error}") from error


def _checked_height(height: int) -> int:
    if height == 0:
        raise RequestError(400, "the request has no rows")
    if height > MAX_ROWS:
        raise RequestError(413, f"{height} rows in one request; at most {MAX_ROWS}")
    return height


def predict_rows(body: bytes, schema: RequestSchema) -> RequestRows:
    """`{"rows": [{column: value, ...}, ...]}`, in the spec's raw columns."""
    payload = _json(body)
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise RequestError(400, 'expected {"rows": [{"column": value, ...}, ...]}')
    height = _checked_height(len(rows))
    known, required = schema.columns.keys(), schema.required
    for index, row in enumerate(rows):
        if type(row) is not dict:
            raise RequestError(
                400, "each row must be a JSON object", [RowError(index, "", "row_is_object")]
            )
    if set().union(*rows) - known or not all(c in row for c in required for row in rows):
        errors = []
        for index, row in enumerate(rows):
            keys = row.keys()
            errors += [RowError(index, c, COLUMN_KNOWN) for c in sorted(keys - known)]
            errors += [RowError(index, c, COLUMN_PRESENT) for c in required if c not in keys]
        raise invalid_rows(errors)
    values = {name: [row.get(name) for row in rows] for name in known}
    return RequestRows(values, height)


def _tensor_values(tensor: dict) -> list:
    """The values of one input tensor: a column, shape [n] or [n, 1], data flat or nested."""
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    data = tensor.get("data")
    if not isinstance(name, str) or not isinstance(shape, list) or not isinstance(data, list):
        raise RequestError(
            400, 'each input needs "name", "shape", "datatype" and "data" (a JSON array)'
        )
    if datatype not in V2_DATATYPES:
        raise RequestError(
            400,
            f"input {name}: datatype {datatype!r} is not an Open Inference Protocol datatype",
            [RowError(None, name, "datatype")],
        )
    if not (
        all(isinstance(d, int) and d >= 0 for d in shape)
        and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
    ):
        raise RequestError(
            400,
            f"input {name}: shape {shape} is not one column ([n] or [n, 1])",
            [RowError(None, name, "shape")],
        )
    values = [v for item in data for v in item] if data and isinstance(data[0], list) else data
    if len(values) != shape[0]:
        raise RequestError(
            400,
            f"input {name}: shape {shape} holds {shape[0]} values, data has {len(values)}",
            [RowError(None, name, "shape")],
        )
    for index, value in enumerate(values):
        if value is not None and not _fits(value, datatype):
            raise RequestError(
                400,
                f"input {name}: a {datatype} tensor holds {type(value).__name__} values",
                [RowError(index, name, f"datatype({datatype})", str(value))],
            )
    return values


def _fits(value: object, datatype: str) -> bool:
    if datatype == "BYTES":
        return isinstance(value, str)
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if datatype in V2_INTEGERS:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isinf(value))


def infer_rows(body: bytes, schema: RequestSchema) -> RequestRows:
    """An Open Inference Protocol inference request: one named input tensor per column."""
    payload = _json(body)
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(t, dict) for t in inputs):
        raise RequestError(400, 'expected {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    values = {tensor.get("name"): _tensor_values(tensor) for tensor in inputs}
    heights = {len(v) for v in values.values()}
    if len(heights) > 1:
        raise RequestError(400, f"inputs hold different numbers of rows: {sorted(heights)}")
    height = _checked_height(heights.pop() if heights else 0)
    errors = [RowError(None, c, COLUMN_KNOWN) for c in values if c not in schema.columns]
    errors += [RowError(None, c, COLUMN_PRESENT) for c in schema.required if c not in values]
    if errors:
        raise invalid_rows(errors)
    request_id = payload.get("id")
    outputs = payload.get("outputs")
    if outputs is not None and not (
        isinstance(outputs, list) and all(isinstance(o, dict) and "name" in o for o in outputs)
    ):
        raise RequestError(400, '"outputs" must be a list of {"name": ...}')
    return RequestRows(
        values,
        height,
        request_id=str(request_id) if request_id is not None else None,
        outputs=[o["name"] for o in outputs] if outputs is not None else None,
    )
