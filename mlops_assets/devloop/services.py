"""What `mlops dev` (and so `make run`) starts: Dagster, the MLflow UI and the metrics exporter.

The operator's first hour needs three windows on one machine: the Dagster UI (assets,
runs, checks), the MLflow UI over the same embedded store the assets write (runs,
registered versions, artifacts such as the model card), and the Prometheus metrics.
This module turns the local settings into the command lines of those servers; the
supervisor (`mlops_assets.devloop.supervisor`) runs and stops them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.devloop.supervisor import ChildSpec, Supervisor, say
from mlops_assets.specs.loader import SPECS_PATH_ENV
from resources.mlflow_links import LEGACY_UI_URL_ENV, UI_URL_ENV
from resources.mlflow_tracking import default_artifact_root, default_tracking_uri


@dataclass(frozen=True)
class DevSettings:
    """Where each local server listens, and which folders it uses."""

    host: str = "127.0.0.1"
    port: int = 3000
    mlflow_port: int = 5000
    exporter_port: int = 9108
    workspace: Path = Path("workspace.yaml")
    specs_dir: Path | None = Path("specs")

    @property
    def dagster_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mlflow_url(self) -> str:
        """The MLflow UI: the tracking server when one is configured, else the one started here."""
        remote = os.environ.get("MLFLOW_TRACKING_URI", "")
        if remote.startswith(("http://", "https://")):
            return remote.rstrip("/")
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def exporter_url(self) -> str:
        return f"http://127.0.0.1:{self.exporter_port}/metrics"

    @property
    def starts_mlflow(self) -> bool:
        """True for the embedded store; a remote tracking server already has its own UI."""
        return not os.environ.get("MLFLOW_TRACKING_URI", "").startswith(("http://", "https://"))


def _bin(name: str) -> str:
    """A console script of this environment (beside the running Python), else from PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def child_environment(settings: DevSettings) -> dict[str, str]:
    """The environment every child shares: the Dagster home, the spec folder, the MLflow UI link."""
    env = dict(os.environ)
    home = Path(env.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    env["DAGSTER_HOME"] = str(home.resolve())
    if settings.specs_dir is not None and not env.get(SPECS_PATH_ENV):
        env[SPECS_PATH_ENV] = str(settings.specs_dir.resolve())
    if not (env.get(UI_URL_ENV) or env.get(LEGACY_UI_URL_ENV)):
        env[UI_URL_ENV] = settings.mlflow_url  # metadata links point at the UI started here
    # The MLflow server's background job consumers (GenAI jobs) are not used here: a
    # dozen idle processes on a laptop for nothing.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def dev_children(settings: DevSettings, env: dict[str, str]) -> list[ChildSpec]:
    """The command lines of dagster dev, the MLflow server (embedded store only) and the exporter."""
    children = [
        ChildSpec(
            "dagster dev",
            [
                _bin("dagster"),
                "dev",
                "-h",
                settings.host,
                "-p",
                str(settings.port),
                "-w",
                str(settings.workspace),
            ],
            env=env,
            stop_signal=signal.SIGINT,
        )
    ]
    if settings.starts_mlflow:
        children.append(
            ChildSpec("mlflow server", mlflow_server_command(settings.mlflow_port, env), env=env)
        )
    children.append(
        ChildSpec(
            "metrics exporter",
            [
                sys.executable,
                "-m",
                "mlops_assets.cli",
                "exporter",
                "--host",
                "127.0.0.1",
                "--port",
                str(settings.exporter_port),
            ],
            env=env,
        )
    )
    return children


def mlflow_server_command(port: int, env: Mapping[str, str]) -> list[str]:
    """The MLflow tracking server and UI on 127.0.0.1:`port` over the embedded store of `env`
    (its SQLite database and artifact root): the runs, the registry and the figures' bytes."""
    return [
        _bin("mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        _tracking_uri(env),
        "--default-artifact-root",
        _artifact_root(env),
    ]


def _tracking_uri(env: Mapping[str, str]) -> str:
    return default_tracking_uri(env)


def _artifact_root(env: Mapping[str, str]) -> str:
    return default_artifact_root(env) or ""


def prepare_home(home: Path, instance_config: Path = Path("dagster.yaml")) -> None:
    """Create the Dagster home; give it the project's instance config if it has none.

    `make home` does the same; this covers `mlops dev` started without make. An
    instance config already in the home (the operator's own) is kept.
    """
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and instance_config.is_file():
        shutil.copy(instance_config, home / "dagster.yaml")


def prepare_mlflow_store(env: dict[str, str]) -> None:
    """Create the embedded SQLite store once, before the servers and runs open it together.

    Two processes creating the tables of a fresh store at the same moment can fail
    ("table already exists"); one creation before anything starts avoids that.
    """
    uri = _tracking_uri(env)
    if not uri.startswith("sqlite:///"):
        return
    Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(uri, _artifact_root(env)).engine.dispose()


def prepare_dagster_storage(home: Path) -> None:
    """Create (or migrate) the home's Dagster storage once, before the webserver, the daemon,
    the code servers and the exporter open it together.

    On a fresh home each of them creates the SQLite schemas on first open; on a busy machine
    two of them do it at the same moment and one stops with "Version table 'alembic_version'
    has more than one head present", which ends `make run`.
    """
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.get_latest_materialization_event(dg.AssetKey("mlops_dev_storage_probe"))
    finally:
        instance.dispose()


def busy_ports(settings: DevSettings) -> list[str]:
    """The ports `mlops dev` needs that something else already listens on, each named."""
    wanted = [("Dagster UI", settings.host, settings.port, "PORT")]
    if settings.starts_mlflow:
        wanted.append(("MLflow UI", "127.0.0.1", settings.mlflow_port, "MLFLOW_PORT"))
    wanted.append(("metrics exporter", "127.0.0.1", settings.exporter_port, "EXPORTER_PORT"))
    busy = []
    for name, host, port, variable in wanted:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                busy.append(f"{name} port {port} is in use (make run {variable}=...)")
    return busy


def _announce_when_ready(name: str, url: str, probe: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with urllib.request.urlopen(probe, timeout=2):
                say(f"{name} is up: {url}")
                return
        except OSError:
            stop.wait(1.0)


def run_dev(settings: DevSettings, grace_seconds: float = 5.0) -> int:
    """Start the local platform and block until Ctrl+C (or a server exits); stop every process."""
    busy = busy_ports(settings)
    if busy:
        for line in busy:
            say(f"cannot start: {line}")
        return 2
    env = child_environment(settings)
    if settings.specs_dir is not None:
        settings.specs_dir.mkdir(parents=True, exist_ok=True)
    prepare_home(Path(env["DAGSTER_HOME"]))
    try:
        prepare_dagster_storage(Path(env["DAGSTER_HOME"]))
        if settings.starts_mlflow:
            prepare_mlflow_store(env)
    except KeyboardInterrupt:  # Ctrl+C before any server started: nothing to stop
        return 130
    supervisor = Supervisor(dev_children(settings, env), grace_seconds=grace_seconds)
    say(f"Dagster UI       {settings.dagster_url}")
    say(f"MLflow UI        {settings.mlflow_url}")
    say(f"Metrics exporter {settings.exporter_url}")
    say(f"Specs folder     {env.get(SPECS_PATH_ENV, '(none)')} (add a spec, then Reload)")
    say("Ctrl+C stops every server")
    started = time.monotonic()
    stop = threading.Event()
    checks = [
        ("Dagster UI", settings.dagster_url, f"{settings.dagster_url}/server_info"),
        ("MLflow UI", settings.mlflow_url, f"{settings.mlflow_url}/health"),
        ("Metrics exporter", settings.exporter_url, settings.exporter_url),
    ]
    for check in checks if settings.starts_mlflow else [checks[0], checks[2]]:
        threading.Thread(target=_announce_when_ready, args=(*check, stop), daemon=True).start()
    try:
        code = supervisor.run()
    finally:
        stop.set()
    say(f"every server stopped (they ran {time.monotonic() - started:.0f} s)")
    return code
