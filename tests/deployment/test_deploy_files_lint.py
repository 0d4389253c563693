"""Static checks of the deployment files: hadolint on every Dockerfile, `compose config -q`
on every Compose file (with the committed .env.example). No Docker engine needed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deployment.compose_stack import COMPOSE_FILES, compose_binary

DOCKERFILES = [
    ROOT / "Dockerfile",
    ROOT / "deploy" / "proxy" / "Dockerfile",
    ROOT / "tests" / "deployment" / "standins" / "postgres" / "Dockerfile",
]
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


def hadolint() -> str:
    found = shutil.which("hadolint") or Path(sys.executable).with_name("hadolint")
    return str(found)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_finds_nothing_in(dockerfile: Path):
    result = subprocess.run(
        [hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "files, profiles",
    [
        (COMPOSE_FILES[:1], []),
        (COMPOSE_FILES[:1], ["monitoring"]),
        (COMPOSE_FILES[:1], ["serving"]),
        (COMPOSE_FILES, []),
        (COMPOSE_FILES, ["serving"]),
    ],
    ids=[
        "production",
        "production+monitoring",
        "production+serving",
        "production+test-override",
        "production+serving+test-override",
    ],
)
def test_compose_config_is_valid(files: list[Path], profiles: list[str]):
    command = [compose_binary(), "--env-file", str(ENV_EXAMPLE)]
    for path in files:
        command += ["-f", str(path)]
    for profile in profiles:
        command += ["--profile", profile]
    result = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets():
    """Every secret is required from deploy/.env: without one, Compose stops with its name."""
    result = subprocess.run(
        [compose_binary(), "-f", str(COMPOSE_FILES[0]), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
    )
    assert result.returncode != 0
    assert "deploy/.env" in result.stderr


def test_the_env_file_is_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert ignored.returncode == 0
