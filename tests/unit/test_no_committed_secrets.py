"""Secrets come only from environment variables: none is written in the repository.

Scans every file git tracks or is about to track (not ignored) for credential-looking
literals, and checks that resources and the production instance take credentials
from the environment (`dg.EnvVar`, `{env: ...}`) so their values never reach config,
the UI or the event log.
"""

import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_SUFFIXES = {".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".json", ".env", ".example"}
CONFIG_NAMES = {"Dockerfile", "Makefile"}
CREDENTIAL_KEY = re.compile(
    r"^\s*(?:export\s+|-\s+)?[\"']?(?P<key>[A-Za-z0-9_.-]*?"
    r"(?:password|passwd|secret_?access_?key|access_?key_?id|api_?key|token|hmac_?key|"
    r"private_?key|pii_?key)[A-Za-z0-9_.-]*)[\"']?\s*[:=]\s*(?P<value>.*)$",
    re.IGNORECASE,
)
# Key names that hold a name of a secret or a switch, not a credential.
NOT_A_CREDENTIAL_KEY = re.compile(r"name|ref|file|generate|_env$", re.IGNORECASE)
# GitHub workflows name a secret as ${{ secrets.NAME }}, and Helm or External Secrets
# templates as {{ ... }}: references, not values.
REFERENCE = re.compile(
    r"^[\"']?(\{\s*env:\s*\w+\s*\}|\$\{\{\s*secrets\.\w+\s*\}\}|\{\{ .+ \}\}|\$\{[^}]+\}|\$\(\w+\)|\$\w+)[\"']?\s*(#.*)?$"
)
PLACEHOLDER = re.compile(
    r"^[\"']?(change-?me|<[^>]+>|example|placeholder|x{3,})[\"']?\s*(#.*)?$", re.I
)
HIGH_SIGNAL = {
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password in a URI": re.compile(
        r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"'{}$]+:(?P<pw>[^@\s/\"'{}$]+)@"
    ),
}
# Credentials that are fixtures, with the reason they are harmless.
ALLOWED = {
    (".ci/with-services", "password in a URI"): "role of the throwaway CI PostgreSQL on 127.0.0.1",
}


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in sorted(set(listed)) if (ROOT / name).is_file()]


def is_config(path: Path) -> bool:
    return (
        path.suffix in CONFIG_SUFFIXES or path.name in CONFIG_NAMES or path.name.startswith(".env")
    )


def findings(relative: str, text: str, config: bool) -> list[str]:
    """Credential-looking literals in one file's text."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in HIGH_SIGNAL.items():
            if pattern.search(line) and (relative, kind) not in ALLOWED:
                found.append(f"{relative}:{number}: {kind}")
        match = CREDENTIAL_KEY.match(line) if config else None
        if not match or NOT_A_CREDENTIAL_KEY.search(match["key"]):
            continue
        value = match["value"].strip()
        if value in ("", '""', "''", "~", "null", "{", "[") or value.startswith(("{env:", "#")):
            continue
        if REFERENCE.match(value):
            continue
        if relative.endswith(".example") and PLACEHOLDER.match(value):
            continue
        found.append(f"{relative}:{number}: {match['key']} has a literal value")
    return found


def test_no_credential_literal_in_the_repository() -> None:
    found = []
    for path in repository_files():
        if path.name == "uv.lock":
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += findings(str(path.relative_to(ROOT)), text, is_config(path))
    assert found == []


def test_no_env_file_is_committed() -> None:
    env_files = [p.name for p in repository_files() if p.name.startswith(".env")]
    assert set(env_files) <= {".env.example"}


@pytest.mark.parametrize(
    "line, config",
    [
        ("  password: hunter2-prod", True),
        ("DAGSTER_PG_PASSWORD=s3cr3t", True),
        ('  "api_key": "abc123def456"', True),
        # Built from parts, so that this file holds no literal the scan would flag.
        ("aws_key = 'AKIA" + "ABCDEFGHIJKLMNOP'", False),
        ("url: postgresql://dagster:pa55word" + "@db:5432/dagster", True),
        ("-----BEGIN OPENSSH PRIVATE" + " KEY-----", False),
    ],
)
def test_the_scan_flags_a_planted_secret(line: str, config: bool) -> None:
    assert findings("deploy/planted.yaml", line, config)


@pytest.mark.parametrize(
    "line",
    [
        "      password: {env: DAGSTER_PG_PASSWORD}",
        "      DAGSTER_PG_PASSWORD: ${POSTGRES_PASSWORD:?set it in deploy/.env}",
        "  postgresqlSecretName: dagster-postgresql-secret",
        "generatePostgresqlPasswordSecret: false",
        "      - MLOPS_PII_KEY",
        "  uri: postgresql+psycopg2://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres:5432/mlflow",
    ],
)
def test_the_scan_accepts_references(line: str) -> None:
    assert findings("deploy/reference.yaml", line, True) == []


def test_placeholders_only_in_example_files() -> None:
    assert findings("deploy/.env.example", "POSTGRES_PASSWORD=change-me", True) == []
    assert findings("deploy/.env", "POSTGRES_PASSWORD=change-me", True)


def test_production_instance_takes_credentials_from_the_environment() -> None:
    prod = yaml.safe_load((ROOT / "deploy" / "dagster.prod.yaml").read_text())
    database = prod["storage"]["postgres"]["postgres_db"]
    for field in ("username", "password", "hostname", "db_name", "port"):
        assert set(database[field]) == {"env"}, field
    assert all(
        re.fullmatch(r"[A-Z_]+", name) for name in prod["run_launcher"]["config"]["env_vars"]
    )


CREDENTIAL_FIELD = re.compile(r"key|secret|password|token", re.IGNORECASE)


def test_resource_credentials_are_env_var_references(
    platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_assets.definitions import build_resources

    secrets = {
        "MLOPS_PII_KEY": "hmac-literal-never-in-config",
        "AWS_ACCESS_KEY_ID": "AKIDNEVERINCONFIG",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-never-in-config",
        "AWS_SESSION_TOKEN": "aws-token-never-in-config",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    checked = []
    for resource in build_resources().values():
        if not isinstance(resource, dg.ConfigurableResource | dg.ConfigurableIOManager):
            continue
        for field, value in resource.__dict__.items():
            if CREDENTIAL_FIELD.search(field) and value:
                assert isinstance(value, dg.EnvVar), f"{type(resource).__name__}.{field}"
                checked.append(field)
        plain = {v for v in resource.__dict__.values() if type(v) is str}
        assert not plain & set(secrets.values())
    assert sorted(checked) == ["access_key_id", "hmac_key", "secret_access_key", "session_token"]
