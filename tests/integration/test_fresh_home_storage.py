"""`mlops dev` creates a fresh home's Dagster storage once, before its servers open it together.

Seen on a busy 2-core machine: on a new home the webserver, the daemon, the code servers and the
exporter all created the SQLite schemas at the same moment, one of them stopped with "Version
table 'alembic_version' has more than one head present" and `make run` ended (issue 10)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

from mlops_assets.devloop.services import prepare_dagster_storage
from tests.conftest import ROOT

OPEN_INSTANCE = """
import dagster as dg
instance = dg.DagsterInstance.get()
instance.get_runs(limit=1)
instance.all_instigator_state()
instance.dispose()
"""


def test_a_prepared_home_is_opened_by_many_processes_at_once(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    prepare_dagster_storage(home)

    for database in (home / "schedules" / "schedules.db", home / "history" / "runs.db"):
        with sqlite3.connect(database) as connection:
            heads = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert len(heads) == 1, f"{database.name}: {heads}"

    env = {**os.environ, "DAGSTER_HOME": str(home)}
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_INSTANCE],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for opener in openers:
        _, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err
