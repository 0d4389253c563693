"""docs/dataset-spec.md documents every spec field, with its type and default, as the model has it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlops_assets.specs.reference import (
    FieldDoc,
    current_table,
    field_docs,
    render_table,
    undocumented,
)
from tests.conftest import ROOT

DOC = ROOT / "docs" / "dataset-spec.md"


def test_every_field_has_a_meaning() -> None:
    assert undocumented() == [], "describe these fields in the model or in FIELD_NOTES"


def test_the_doc_holds_the_table_the_model_renders() -> None:
    table = current_table(DOC.read_text())
    assert table is not None, "docs/dataset-spec.md lost its generated field table markers"
    assert table == render_table(), (
        "docs/dataset-spec.md is out of date with the spec model: run "
        "`python -m mlops_assets.specs.reference --write docs/dataset-spec.md`"
    )


def test_every_field_path_type_and_default_is_in_the_doc() -> None:
    doc = DOC.read_text()
    for row in field_docs():
        assert f"| `{row.path}` | {row.type} | {row.default} |" in doc, row.path


def test_a_new_field_shows_up_as_missing() -> None:
    """The check can fail: a model with an extra field renders a row the doc lacks."""

    class Extra(BaseModel):
        shiny: int = Field(3, description="a new field")

    rows = field_docs(Extra, "extra.")
    assert rows == [FieldDoc("extra.shiny", "int", "`3`", "a new field")]
    assert "`extra.shiny`" not in DOC.read_text()


def test_nested_sections_are_walked() -> None:
    paths = {row.path for row in field_docs()}
    assert {
        "source.csv.skip_rows",
        "time.parts.year",
        "time.order",
        "time.hour_column",
        "columns.NAME.dtype",
        "joins[].keys",
        "joins[].source.uri",
        "drift.numeric_method",
        "retraining.cooldown_hours",
        "promotion.max_metric_drop",
    } <= paths
