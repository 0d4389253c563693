"""Names of the dataset specs the review workflows run `mlops review` on.

    spec_names.py changed --base REF DIR...   specs whose file differs from REF's merge base
    spec_names.py all DIR...                  every spec file in the folders

A spec file is a `*.yaml` or `*.yml` directly inside one of the folders, as the platform's
loader reads them. The name is the file's `name:`; a file whose YAML cannot be read is
listed by its stem, so that its review reports the error instead of skipping it. Names
are printed one a line. With GITHUB_OUTPUT set, the outputs `specs` (space-separated),
`json` (a JSON list, for a job matrix) and `count` are written there too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

SPEC_SUFFIXES = (".yaml", ".yml")


def spec_name(path: Path) -> str:
    """The spec's `name:`, or the file's stem when the YAML cannot be read."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return path.stem
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else path.stem


def is_spec_file(path: Path, folders: list[Path]) -> bool:
    """A YAML file directly inside one of the spec folders."""
    return path.suffix in SPEC_SUFFIXES and any(path.parent == folder for folder in folders)


def changed_files(base: str, folders: list[Path]) -> list[Path]:
    """Spec files added, modified or renamed since the merge base of `base` and HEAD."""
    command = ["git", "diff", "--name-only", "--diff-filter=d", f"{base}...HEAD", "--"]
    result = subprocess.run(
        command + [str(folder) for folder in folders], capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"spec_names: cannot diff against {base!r}: {result.stderr.strip()}")
    paths = [Path(line) for line in result.stdout.splitlines() if line.strip()]
    return [path for path in paths if is_spec_file(path, folders) and path.is_file()]


def all_files(folders: list[Path]) -> list[Path]:
    """Every spec file in the folders that exist."""
    return sorted(
        path
        for folder in folders
        if folder.is_dir()
        for path in folder.iterdir()
        if is_spec_file(path, folders)
    )


def write_github_output(names: list[str]) -> None:
    """The step outputs `specs`, `json` and `count`, when running in GitHub Actions."""
    output = os.environ.get("GITHUB_OUTPUT")
    if not output:
        return
    with open(output, "a") as handle:
        handle.write(f"specs={' '.join(names)}\n")
        handle.write(f"json={json.dumps(names)}\n")
        handle.write(f"count={len(names)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    changed = commands.add_parser("changed", help="specs changed since a git ref")
    changed.add_argument("--base", required=True, help="git ref to compare with")
    changed.add_argument("folders", nargs="+", type=Path)
    every = commands.add_parser("all", help="every spec")
    every.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)

    folders = [Path(os.path.normpath(folder)) for folder in args.folders]
    files = changed_files(args.base, folders) if args.command == "changed" else all_files(folders)
    names = sorted({spec_name(path) for path in files})
    for name in names:
        print(name)
    write_github_output(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
