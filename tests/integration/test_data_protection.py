"""No raw personal data and no secret is stored anywhere by a real run.

A churn table carries an e-mail (hashed by the spec) and a full name (dropped by the
spec), with distinctive values. `mlops run` materializes the whole graph with the HMAC
key and other deployment secrets set as environment variables. The test then reads
back everything the run stored: every file under DAGSTER_HOME (Delta parquet decoded,
_delta_log JSON, Dagster's SQLite stores and compute logs, IO-manager pickles, the
MLflow store and artifacts), every event of the Dagster event log with its metadata,
every MLflow param, tag, metric key, dataset, description and artifact, and the
process's own output. Positive controls prove each store was read: the keyed hash of
a known e-mail, the spec's PII settings and the model's tags are found where they
should be.
"""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import churn_spec, customers_table

pytestmark = pytest.mark.slow
MLOPS = str(Path(sys.executable).parent / "mlops")

ROWS = 400
EMAIL_MARKER = "@pii-leak-check.test"
NAME_MARKER = "Quillfeather"
SECRETS = {
    "MLOPS_PII_KEY": "hmac-key-7Qv2Lm9Zx4Rt",
    "DAGSTER_PG_PASSWORD": "pg-password-Kd83Hs02Lq",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-Pq71Mn40Xz",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-password-Wc55Ty18",
}


def emails() -> list[str]:
    return [f"pii.person{i}{EMAIL_MARKER}" for i in range(ROWS)]


def names() -> list[str]:
    return [f"Zebediah {NAME_MARKER} {i}" for i in range(ROWS)]


def keyed_hash(value: str) -> str:
    key = SECRETS["MLOPS_PII_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def forbidden() -> list[str]:
    """Every raw PII value contains one of the markers; secrets are searched whole and by prefix."""
    needles = [EMAIL_MARKER, NAME_MARKER, "pii.person"]
    for secret in SECRETS.values():
        needles += [secret, secret[-10:]]
    return needles


class Haystack:
    """Text read from every store, labelled by where it came from."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.parts.append((where, text))

    def add_bytes(self, where: str, data: bytes) -> None:
        self.add(where, data.decode("utf-8", errors="replace"))

    def where(self, needle: str) -> list[str]:
        return [where for where, text in self.parts if needle in text]

    def leaks(self) -> dict[str, list[str]]:
        return {n: self.where(n)[:5] for n in forbidden() if self.where(n)}


def read_files(root: Path, haystack: Haystack) -> int:
    """Every file, parquet decoded (its pages are compressed), everything else as bytes."""
    count = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        count += 1
        haystack.add_bytes(str(path), path.read_bytes())
        if path.suffix == ".parquet":
            haystack.add(f"{path} (decoded)", pl.read_parquet(path).write_ndjson())
    return count


def read_event_log(haystack: Haystack) -> int:
    import dagster as dg
    from dagster._serdes import serialize_value

    instance = dg.DagsterInstance.get()
    count = 0
    for run in instance.get_runs():
        haystack.add(f"run {run.run_id} config and tags", serialize_value(run))
        for entry in instance.all_logs(run.run_id):
            count += 1
            haystack.add(f"event log {run.run_id}", serialize_value(entry))
            haystack.add(f"event message {run.run_id}", entry.user_message or "")
    return count


def read_mlflow(haystack: Haystack, download_to: Path) -> int:
    from mlflow.entities import ViewType

    from resources.mlflow_tracking import MlflowTracking, default_tracking_uri

    client = MlflowTracking(mlflow_tracking_uri=default_tracking_uri()).client()
    artifacts = 0
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        haystack.add(f"experiment {experiment.name}", repr(experiment))
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL):
            where = f"mlflow run {run.info.run_id}"
            haystack.add(f"{where} params", json.dumps(run.data.params))
            haystack.add(f"{where} tags", json.dumps(run.data.tags))
            haystack.add(f"{where} metric keys", json.dumps(sorted(run.data.metrics)))
            haystack.add(f"{where} inputs", repr(run.inputs))
            local = client.download_artifacts(
                run.info.run_id, "", str(download_to / run.info.run_id)
            )
            for path in Path(local).rglob("*"):
                if path.is_file():
                    artifacts += 1
                    haystack.add_bytes(f"{where} artifact {path.name}", path.read_bytes())
    for model in client.search_registered_models():
        haystack.add(f"registered model {model.name}", repr(model) + (model.description or ""))
        for version in client.search_model_versions(f"name='{model.name}'"):
            haystack.add(
                f"model version {model.name}/{version.version}",
                repr(version) + (version.description or "") + json.dumps(version.tags),
            )
    return artifacts


def test_no_raw_pii_and_no_secret_is_stored(platform, tmp_path: Path) -> None:
    source = platform.data / "customers.csv"
    customers_table(ROWS).with_columns(
        pl.Series("email", emails()), pl.Series("full_name", names())
    ).write_csv(source)
    spec = churn_spec(source)
    spec["pii"] = {"columns": {"email": "hash", "full_name": "drop"}}
    platform.write_spec(spec)
    env = {
        **os.environ,
        **SECRETS,
        "DAGSTER_HOME": str(platform.home),
        "MLOPS_BUILTIN_SPECS": "0",
        "MLOPS_SPECS_PATH": str(platform.specs),
    }
    done = subprocess.run(
        [MLOPS, "run", "--spec", "churn", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["model_version"] == 1

    haystack = Haystack()
    haystack.add("mlops stdout", done.stdout)
    haystack.add("mlops stderr", done.stderr)
    files = read_files(platform.home, haystack)
    events = read_event_log(haystack)
    artifacts = read_mlflow(haystack, tmp_path / "artifacts")
    assert files > 20 and events > 20 and artifacts > 3, (files, events, artifacts)

    # Positive controls: the scan reads each store.
    hashed = keyed_hash(emails()[0])
    assert any("churn/raw" in w and "(decoded)" in w for w in haystack.where(hashed)), (
        "the keyed hash of a known e-mail must be in the decoded raw Delta table"
    )
    assert any(w.startswith("event log") for w in haystack.where("full_name (drop)"))
    assert any(w.startswith("mlflow run") and "spec.json" in w for w in haystack.where("full_name"))
    assert any(w.startswith("model version") for w in haystack.where("churn_model"))
    assert any("/_delta_log/" in where for where, _ in haystack.parts), "Delta logs are read"

    assert haystack.leaks() == {}


def test_the_scan_finds_a_planted_leak(tmp_path: Path) -> None:
    """The scanner itself: a raw value inside compressed parquet or a secret in a file is found."""
    pl.DataFrame({"email": [emails()[3]] * 1000}).write_parquet(
        tmp_path / "leak.parquet", compression="zstd"
    )
    (tmp_path / "log.txt").write_text(f"connecting with {SECRETS['DAGSTER_PG_PASSWORD'][-10:]}")
    haystack = Haystack()
    read_files(tmp_path, haystack)
    assert any(w.endswith("leak.parquet (decoded)") for w in haystack.where(EMAIL_MARKER))
    assert set(haystack.leaks()) == {
        EMAIL_MARKER,
        "pii.person",
        SECRETS["DAGSTER_PG_PASSWORD"][-10:],
    }
