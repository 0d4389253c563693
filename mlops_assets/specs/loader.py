"""Finding and reading dataset specs.

Specs come from the built-in folder beside this file and from every file or
folder listed in `MLOPS_SPECS_PATH` (separated by `:`). Set
`MLOPS_BUILTIN_SPECS=0` to hide the built-in demo.

One broken spec file never hides the others: `load_spec_catalog` returns the
specs that load and, apart, every file that does not with its reason, so the
code location, `mlops specs` and the logs can each report it loudly. A command
about one spec (`find_spec`) validates only the file that names it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlops_assets.errors import PlatformError
from mlops_assets.specs.model import DatasetSpec

BUILTIN_SPECS_DIR = Path(__file__).parent / "builtin"
SPECS_PATH_ENV = "MLOPS_SPECS_PATH"
log = logging.getLogger("mlops_assets.specs")


class SpecError(PlatformError):
    """A spec file that cannot be used, with the file and field named."""


class _Yaml12Loader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false are booleans, so `No`, `yes`, `on`, `off` stay text.

    YAML 1.1 (PyYAML's default) reads a column named `No` or `Y` as a boolean; here it is
    the text it looks like. Fields that are booleans still accept yes/no (pydantic parses them).
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

# Spec fields that hold column names: every key or entry must be text.
_NAME_MAPPINGS = (("columns",), ("pii", "columns"))
_NAME_LISTS = (
    ("id_columns",),
    ("categorical_columns",),
    ("exclude_columns",),
    ("pii", "columns"),
    ("source", "csv", "column_names"),
)


def _at(raw: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(part)
    return raw


def _not_text(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    hint = (
        "YAML reads unquoted numbers, dates and null/~ as non-text"
        if not isinstance(value, bool)
        else "YAML reads true/false as booleans"
    )
    return f"`{value}` is a {type(value).__name__}, not a column name ({hint}: quote it)"


def non_text_names(raw: dict) -> list[str]:
    """Column names the YAML turned into numbers, booleans or null, each with where it is."""
    problems = []
    for path in _NAME_MAPPINGS:
        mapping = _at(raw, path)
        if isinstance(mapping, dict):
            problems += [
                f"{'.'.join(path)}: key {why}" for key in mapping if (why := _not_text(key))
            ]
    for path in _NAME_LISTS:
        names = _at(raw, path)
        if isinstance(names, list):
            problems += [f"{'.'.join(path)}: entry {why}" for n in names if (why := _not_text(n))]
    for index, join in enumerate(raw.get("joins") or []):
        if isinstance(join, dict):
            for key in ("keys", "columns", "categorical_columns"):
                if isinstance(join.get(key), list):
                    problems += [
                        f"joins.{index}.{key}: entry {why}"
                        for n in join[key]
                        if (why := _not_text(n))
                    ]
    return problems


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SpecError(f"{path}: cannot read spec: {' '.join(str(error).split())}") from error
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec must be a YAML mapping")
    return raw


def load_spec_file(path: Path) -> DatasetSpec:
    """Read one YAML spec file and validate it."""
    raw = _read_yaml(path)
    names = non_text_names(raw)
    if names:
        raise SpecError(f"{path}: invalid spec: {'; '.join(names)}")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in error.errors()
        )
        raise SpecError(f"{path}: invalid spec: {problems}") from error


def spec_files() -> list[Path]:
    """Every spec file the platform should load, built-in ones first."""
    roots: list[Path] = []
    if os.environ.get("MLOPS_BUILTIN_SPECS", "1") != "0":
        roots.append(BUILTIN_SPECS_DIR)
    roots += [Path(p) for p in os.environ.get(SPECS_PATH_ENV, "").split(":") if p.strip()]
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            files += sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
        elif root.is_file():
            files.append(root)
        else:
            raise SpecError(f"{root}: listed in {SPECS_PATH_ENV} but not found")
    return files


@dataclass(frozen=True)
class BrokenSpec:
    """A spec file that did not load, and why."""

    path: Path
    reason: str

    @property
    def label(self) -> str:
        """A name for the file usable as a Dagster asset key part."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.path.stem).lower() or "spec"


@dataclass
class SpecCatalog:
    """Every spec that loaded (with its file) and every file that did not."""

    specs: list[tuple[Path, DatasetSpec]] = field(default_factory=list)
    broken: list[BrokenSpec] = field(default_factory=list)


def load_spec_catalog() -> SpecCatalog:
    """Load every spec file; a broken one (or a second file with a used name) is set aside."""
    catalog = SpecCatalog()
    by_name: dict[str, Path] = {}
    try:
        files = spec_files()
    except SpecError as error:
        catalog.broken.append(BrokenSpec(Path(os.environ.get(SPECS_PATH_ENV, "")), str(error)))
        return catalog
    for path in files:
        try:
            spec = load_spec_file(path)
            if spec.name in by_name:
                raise SpecError(
                    f"{path}: spec name `{spec.name}` is already used by {by_name[spec.name]}"
                )
        except SpecError as error:
            log.error("spec file not loaded: %s", error)
            catalog.broken.append(BrokenSpec(path, str(error)))
            continue
        by_name[spec.name] = path
        catalog.specs.append((path, spec))
    return catalog


def load_specs() -> list[DatasetSpec]:
    """Every spec that loads; broken files are logged and left out (see `load_spec_catalog`)."""
    return [spec for _, spec in load_spec_catalog().specs]


def _declared_name(path: Path) -> str | None:
    try:
        raw = _read_yaml(path)
    except SpecError:
        return None
    name = raw.get("name")
    return name if isinstance(name, str) else None


def find_spec(name: str) -> DatasetSpec:
    """The spec called `name`, validating only the file(s) that declare that name.

    Other spec files are read as YAML for their `name` alone, so a broken file elsewhere
    never stops a command about this spec.
    """
    files = spec_files()
    matching = [path for path in files if _declared_name(path) == name]
    if len(matching) > 1:
        raise SpecError(
            f"spec name `{name}` is declared by several files: {', '.join(map(str, matching))}"
        )
    if matching:
        return load_spec_file(matching[0])
    known = sorted(n for n in map(_declared_name, files) if n)
    unreadable = [str(p) for p in files if _declared_name(p) is None]
    message = f"no spec named `{name}`; known specs: {', '.join(known) or 'none'}"
    if unreadable:
        message += f" (unreadable spec files: {', '.join(unreadable)})"
    raise SpecError(message)
