"""The two versions of a spec a review compares: as it stands, and as it was at a git ref.

The spec as it stands is the file the platform loads for that name (or a file
named on the command line); the spec at a ref is that file's content in the
commit, read with `git show REF:path`. A spec that the ref does not hold is new
in the change: it has no base, and the review judges it on the baseline and the
floor alone.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from mlops_assets.specs.loader import SpecError, load_spec_file, spec_files
from mlops_assets.specs.model import DatasetSpec

DEFAULT_BASE = "HEAD"


class ReviewError(RuntimeError):
    """The review itself cannot run (no such spec, unknown ref, unreadable source)."""


@dataclass(frozen=True)
class ChangedSpec:
    """The spec under review and the file it came from."""

    spec: DatasetSpec
    path: Path


@dataclass(frozen=True)
class SpecAtRef:
    """The spec at a git ref: the spec, or why there is none."""

    ref: str
    path: Path
    spec: DatasetSpec | None
    note: str

    @property
    def label(self) -> str:
        return f"the spec at `{self.ref}`"


def find_changed_spec(name: str, spec_file: Path | None = None) -> ChangedSpec:
    """The spec `name` as it stands: `spec_file` if given, else its file among the loaded specs.

    Other spec files that do not load are no reason to stop this review; a file
    named after the spec that does not load is (its error is the review's result).
    """
    if spec_file is not None:
        spec = _load(spec_file)
        if spec.name != name:
            raise ReviewError(f"{spec_file}: the file holds spec `{spec.name}`, not `{name}`")
        return ChangedSpec(spec, spec_file.resolve())
    found = _spec_path(name)
    return ChangedSpec(_load(found), found)


def _spec_path(name: str) -> Path:
    try:
        files = spec_files()
    except SpecError as error:
        raise ReviewError(str(error)) from error
    matches: list[Path] = []
    for path in files:
        try:
            if load_spec_file(path).name == name:
                matches.append(path)
        except SpecError as error:
            if path.stem == name:
                raise ReviewError(str(error)) from error
    if not matches:
        raise ReviewError(f"no spec named `{name}` in {', '.join(str(f) for f in files) or 'none'}")
    if len(matches) > 1:
        raise ReviewError(f"spec `{name}` is defined twice: {matches[0]} and {matches[1]}")
    return matches[0].resolve()


def _load(path: Path) -> DatasetSpec:
    try:
        return load_spec_file(path)
    except SpecError as error:
        raise ReviewError(str(error)) from error


def base_spec_path(name: str, changed: ChangedSpec, spec_file: Path | None) -> Path:
    """Which file's history holds the base: the loaded spec of that name, else the given file."""
    if spec_file is None:
        return changed.path
    try:
        return _spec_path(name)
    except ReviewError:
        return changed.path


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as error:
        raise ReviewError("git is not installed: cannot read a spec at a ref") from error


def spec_at_ref(path: Path, ref: str, explicit: bool) -> SpecAtRef:
    """The spec file `path` as committed at `ref`.

    An explicit ref that git does not know stops the review; the default ref
    (`HEAD`) outside a git repository only means there is no base.
    """
    folder = path.parent
    inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        if explicit:
            raise ReviewError(f"{path}: not in a git repository, so --base {ref} cannot be read")
        return SpecAtRef(ref, path, None, f"{path.name} is not in a git repository: no base")
    commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        if explicit:
            raise ReviewError(f"--base {ref}: git knows no such commit")
        return SpecAtRef(ref, path, None, f"the repository has no commit `{ref}` yet: no base")
    shown = _git(folder, "show", f"{ref}:./{path.name}")
    if shown.returncode != 0:
        return SpecAtRef(
            ref, path, None, f"`{path.name}` does not exist at `{ref}`: the spec is new"
        )
    where = f"{ref}:{path.name}"
    try:
        raw = yaml.safe_load(shown.stdout)
        if not isinstance(raw, dict):
            raise ValueError("a spec must be a YAML mapping")
        spec = DatasetSpec.model_validate(raw)
    except (yaml.YAMLError, ValueError, ValidationError) as error:
        first = str(error).strip().splitlines()[0]
        return SpecAtRef(ref, path, None, f"{where} does not load ({first}): no base")
    return SpecAtRef(ref, path, spec, f"{where}")


def changed_fields(before: DatasetSpec, after: DatasetSpec) -> list[str]:
    """The spec fields (dotted, down to the second level) whose value differs between two specs."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    fields = []
    for name in dict.fromkeys([*old, *new]):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            fields += [
                f"{name}.{key}" for key in dict.fromkeys([*a, *b]) if a.get(key) != b.get(key)
            ]
        else:
            fields.append(name)
    return fields
