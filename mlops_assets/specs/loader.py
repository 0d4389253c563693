"""Finding and reading dataset specs.

Specs come from the built-in folder beside this file and from every file or
folder listed in `MLOPS_SPECS_PATH` (separated by `:`). Set
`MLOPS_BUILTIN_SPECS=0` to hide the built-in demo.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from mlops_assets.specs.model import DatasetSpec

BUILTIN_SPECS_DIR = Path(__file__).parent / "builtin"
SPECS_PATH_ENV = "MLOPS_SPECS_PATH"


class SpecError(ValueError):
    """A spec file that cannot be used, with the file and field named."""


def load_spec_file(path: Path) -> DatasetSpec:
    """Read one YAML spec file and validate it."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"{path}: cannot read spec: {error}") from error
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec must be a YAML mapping")
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


def load_specs() -> list[DatasetSpec]:
    """Load every spec; two specs with one name are an error."""
    specs: dict[str, tuple[Path, DatasetSpec]] = {}
    for path in spec_files():
        spec = load_spec_file(path)
        if spec.name in specs:
            raise SpecError(
                f"{path}: spec name `{spec.name}` is already used by {specs[spec.name][0]}"
            )
        specs[spec.name] = (path, spec)
    return [spec for _, spec in specs.values()]


def find_spec(name: str) -> DatasetSpec:
    """The spec called `name`, or an error listing the known ones."""
    specs = {spec.name: spec for spec in load_specs()}
    if name not in specs:
        raise SpecError(
            f"no spec named `{name}`; known specs: {', '.join(sorted(specs)) or 'none'}"
        )
    return specs[name]
