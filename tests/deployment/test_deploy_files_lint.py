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


PREFLIGHT = ROOT / "deploy" / "preflight" / "check-secrets"
SECRETS = ("POSTGRES_PASSWORD", "MLOPS_PII_KEY", "PROXY_PASSWORD", "GRAFANA_ADMIN_PASSWORD")


def _env_example() -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return {key: value for key, value in pairs}


def _preflight(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(PREFLIGHT)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_the_env_example_ships_no_usable_secret():
    """Every secret in .env.example is a placeholder the stack's preflight refuses, by name."""
    done = _preflight(_env_example())
    assert done.returncode == 1
    for name in SECRETS:
        assert f"preflight: {name} in deploy/.env is still the placeholder" in done.stderr
    assert "the stack does not start with placeholder secrets" in done.stderr


def test_preflight_accepts_real_secrets_and_refuses_short_ones():
    import secrets

    real = {name: secrets.token_urlsafe(16) for name in SECRETS}
    done = _preflight(real)
    assert done.returncode == 0, done.stderr
    assert _preflight({**real, "GRAFANA_ADMIN_PASSWORD": ""}).returncode == 0  # monitoring off
    short = _preflight({**real, "PROXY_PASSWORD": "hunter2"})
    assert short.returncode == 1
    assert "PROXY_PASSWORD in deploy/.env is 7 characters long (at least 12)" in short.stderr
    empty = _preflight({**real, "MLOPS_PII_KEY": ""})
    assert empty.returncode == 1 and "MLOPS_PII_KEY" in empty.stderr


def test_every_service_waits_for_the_preflight_and_the_proxy_binds_loopback():
    result = subprocess.run(
        [compose_binary(), "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILES[0]), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    import yaml

    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert services["postgres"]["depends_on"]["preflight"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["preflight"]["command"] == ["sh", "/opt/preflight/check-secrets"]
    [published] = services["proxy"]["ports"]
    assert published["host_ip"] == "127.0.0.1"

    def needs_postgres(name: str, seen: frozenset = frozenset()) -> bool:
        deps = set(services[name].get("depends_on", {}))
        return "postgres" in deps or any(
            needs_postgres(d, seen | {name}) for d in deps - seen if d != "preflight"
        )

    for name in services:
        if name not in ("preflight", "postgres") and services[name].get("profiles") is None:
            assert needs_postgres(name), f"{name} starts without waiting for the preflight"


def test_the_debian_mirror_comes_from_the_apt_configuration(tmp_path: Path):
    script = ROOT / ".ci" / "docker" / "debian-mirror"
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    (tmp_path / "sources.list.d" / "other.list").write_text(
        "deb [arch=amd64 signed-by=/k.gpg] https://vendor.example/apt stable main\n"
    )

    def mirror(**env: str) -> str:
        done = subprocess.run(
            ["bash", str(script)],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin", "APT_ETC": str(tmp_path), **env},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert mirror() == "http://mirror.example/debian"
    assert mirror(MLOPS_DEBIAN_MIRROR="http://override.example/debian") == (
        "http://override.example/debian"
    )
    (tmp_path / "sources.list").write_text("deb http://first.example/debian bookworm main\n")
    assert mirror() == "http://first.example/debian"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert mirror(APT_ETC=str(empty)) == "http://deb.debian.org/debian"
