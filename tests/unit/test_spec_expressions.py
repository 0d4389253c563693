"""The spec's expression language: what it computes, what it refuses, and that a probe reads nothing."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
import yaml

from mlops_assets.specs import SpecError, load_spec_file
from mlops_assets.specs.expressions import ExpressionError, compile_expression

FRAME = pl.DataFrame(
    {
        "arr_delay": [10.0, 20.0, None, -5.0],
        "dep_delay": [1, 100, 3, 0],
        "carrier": ["AA", "ua", None, "DL"],
        "Arrival Delay": [1, 2, 3, 4],
    }
)


def evaluate(text: str) -> list:
    return FRAME.select(compile_expression(text).expr.alias("out"))["out"].to_list()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arr_delay > 15", [False, True, None, False]),
        ("arr_delay > 15 AND dep_delay < 60", [False, False, None, False]),
        ("arr_delay > 15 OR dep_delay >= 100", [False, True, None, False]),
        ("NOT (dep_delay = 0)", [True, True, True, False]),
        ("dep_delay != 1", [False, True, True, True]),
        ("dep_delay <> 1", [False, True, True, True]),
        ("carrier IN ('AA', 'DL')", [True, False, None, True]),
        ("carrier NOT IN ('AA')", [False, True, None, True]),
        ("upper(carrier) = 'UA'", [False, True, None, False]),
        ("lower(trim(carrier)) = 'aa'", [True, False, None, False]),
        ("arr_delay IS NULL", [False, False, True, False]),
        ("arr_delay IS NOT NULL", [True, True, False, True]),
        ("dep_delay BETWEEN 1 AND 3", [True, False, True, False]),
        ("coalesce(arr_delay, 0) + dep_delay * 2", [12.0, 220.0, 6.0, -5.0]),
        ("abs(arr_delay) % 7", [3.0, 6.0, None, 5.0]),
        ("round(dep_delay / 3, 1)", [0.3, 33.3, 1.0, 0.0]),
        ("greatest(arr_delay, dep_delay)", [10.0, 100.0, 3.0, 0.0]),
        (
            "CASE WHEN arr_delay > 15 THEN 'late' WHEN arr_delay < 0 THEN 'early' ELSE 'ok' END",
            ["ok", "late", "ok", "early"],
        ),
        ('"Arrival Delay" >= 3', [False, False, True, True]),
        ("-dep_delay < -50", [False, True, False, False]),
        ("carrier = 'it''s'", [False, False, None, False]),
        ("1.5e1 < arr_delay", [False, True, None, False]),
    ],
)
def test_expression_computes_like_sql(text: str, expected: list) -> None:
    assert evaluate(text) == expected


def test_columns_read_are_reported_once_in_order() -> None:
    compiled = compile_expression("arr_delay > 15 AND coalesce(arr_delay, dep_delay) > 0")
    assert compiled.columns == ["arr_delay", "dep_delay"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("churned IN (SELECT nosuch FROM read_csv('/etc/passwd'))", "subqueries are not allowed"),
        ("(SELECT 1) = 1", "subqueries are not allowed at position 2"),
        ("read_csv('/etc/passwd') IS NULL", "function `read_csv` at position 1 is not allowed"),
        ("read_parquet('s3://bucket/x') > 0", "function `read_parquet`"),
        ("x > 1; DROP TABLE t", "unexpected character ';' at position 6"),
        ("EXISTS (SELECT 1)", "subqueries are not allowed"),
        ("x FROM t", "unexpected text after the expression"),
        ("x IN (y)", "IN takes a list of literals"),
        ("x >", "expected a column, a literal or '('"),
        ("abs(x, y)", "abs() at position 1 takes 1 argument(s), got 2"),
        ("", "expression is empty"),
        ("x = 'unterminated", "unexpected character"),
        ("a" * 2001, "at most 2000"),
    ],
)
def test_anything_else_is_refused_with_position_and_reason(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert reason in str(info.value)


def test_the_file_probe_is_refused_at_spec_load_and_reads_nothing(tmp_path: Path) -> None:
    """The issue's probe: polars SQL would read the file and put its first line in the error."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:first-line-of-the-secret-file\n")
    os.utime(secret, (1_000_000, 2_000_000))  # atime before mtime: a read moves it (relatime)
    spec = {
        "name": "probe",
        "source": {"uri": "x.csv"},
        "target": {
            "column": "churned",
            "task": "binary",
            "expression": f"churned IN (SELECT nosuch FROM read_csv('{secret}'))",
        },
    }
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    message = str(info.value)
    assert str(path) in message and "target.expression" in message
    assert "subqueries are not allowed" in message
    assert "first-line-of-the-secret-file" not in message
    assert os.stat(secret).st_atime == 1_000_000, "the probe file was read"


def test_control_polars_sql_does_read_the_probe(tmp_path: Path) -> None:
    """Why the platform never uses polars SQL: the same probe through it reads the file."""
    secret = tmp_path / "passwd.csv"
    secret.write_text("first-line-of-the-secret-file\n1\n")
    os.utime(secret, (1_000_000, 2_000_000))
    with pytest.raises(Exception) as info:
        pl.DataFrame({"churned": [1]}).select(
            pl.sql_expr(f"churned IN (SELECT nosuch FROM read_csv('{secret}'))")
        )
    read = os.stat(secret).st_atime != 1_000_000 or "first-line-of-the-secret" in str(info.value)
    assert read, "polars SQL no longer reads table functions: this control cannot fail any more"


def test_the_literal_etc_passwd_probe_leaks_nothing(tmp_path: Path) -> None:
    """The issue's exact text, against the real /etc/passwd: refused, and no line of it shown."""
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    spec = {
        "name": "probe",
        "source": {"uri": "x.csv"},
        "target": {
            "column": "churned",
            "task": "binary",
            "expression": "churned IN (SELECT nosuch FROM read_csv('/etc/passwd'))",
        },
    }
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="subqueries are not allowed") as info:
        load_spec_file(path)
    assert first_line not in str(info.value) and "root:" not in str(info.value)
