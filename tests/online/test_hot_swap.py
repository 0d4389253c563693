"""Hot swap under load: the champion alias moves (a promotion, then a rollback) while clients keep
sending requests; not one fails, every answer is one version's own, and the metadata follows."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import mlflow
import pytest

from mlops_assets.serving.champion import CHAMPION, move_champion, rollback
from tests.conftest import churn_spec, customers_table
from tests.online.conftest import json_rows, module_platform, raw_rows, serving

pytestmark = pytest.mark.slow
MODEL = "churn_model"
CLIENTS = 4
SWAP_SECONDS = 60


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """churn_model versions 1 and 2 (another seed), with version 1 the champion."""
    with module_platform(tmp_path_factory.mktemp("hot-swap")) as platform:
        path = platform.data / "customers.csv"
        customers_table(1200).write_csv(path)
        platform.write_spec(churn_spec(path, training={"num_boost_round": 60, "seed": 1}))
        first = platform.run("churn")
        assert first["success"] and first["champion_version"] == 1, first
        bagged = {"bagging_fraction": 0.7, "bagging_freq": 1}
        platform.write_spec(
            churn_spec(path, training={"num_boost_round": 60, "seed": 2, "params": bagged})
        )
        second = platform.run("churn")  # promoted or not by the gate: either way version 2 exists
        assert second["model_version"] == 2, second
        client = mlflow.MlflowClient()
        if client.get_model_version_by_alias(MODEL, CHAMPION).version != "1":
            rollback(client, MODEL, "1", reason="test starts on version 1", actor="test")
        yield platform


def _serving_version(service) -> str:
    return service.get(f"/v2/models/{MODEL}")[1]["versions"][0]


def _wait_for(service, version: str) -> float:
    deadline = time.monotonic() + SWAP_SECONDS
    while _serving_version(service) != version:
        assert time.monotonic() < deadline, f"still not serving version {version}"
        time.sleep(0.05)
    return time.monotonic()


def test_requests_never_fail_while_the_champion_is_promoted_and_rolled_back(two_versions):
    platform = two_versions
    rows = json_rows(raw_rows(platform, "churn").head(200))
    client = mlflow.MlflowClient()
    answers: list[tuple[float, float, int, str, list[float]]] = []
    failures: list[tuple[int, object]] = []
    stop = threading.Event()

    with serving("churn", poll_seconds=0.1) as service:
        service.wait_ready()
        assert _serving_version(service) == "1"

        def traffic(worker: int) -> None:
            sent = 0
            while not stop.is_set():
                size = 1 if sent % 3 else 25
                start = (worker * 37 + sent) % (len(rows) - size)
                began = time.monotonic()
                status, answer = service.post("/predict", {"rows": rows[start : start + size]})
                ended = time.monotonic()
                if status != 200:
                    failures.append((status, answer))
                else:
                    scores = [p["probability"] for p in answer["predictions"]]
                    answers.append((began, ended, start, answer["model_version"], scores))
                sent += 1

        threads = [threading.Thread(target=traffic, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        move_champion(client, MODEL, "2", action="promotion", reason="hot swap test", actor="test")
        on_two = _wait_for(service, "2")
        time.sleep(1.5)
        rolling_back = time.monotonic()
        rollback(client, MODEL, "1", reason="hot swap test", actor="test")
        on_one = _wait_for(service, "1")
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        metrics = service.get("/metrics")[1]

    assert failures == []
    versions = {version for _, _, _, version, _ in answers}
    assert versions == {"1", "2"}
    # Once a version serves, every request sent is answered by it until the alias moves again.
    assert all(
        v == "2" for began, ended, _, v, _ in answers if on_two < began < ended < rolling_back
    )
    assert all(v == "1" for began, _, _, v, _ in answers if began > on_one)
    # Every answer is one whole version's: the same rows always get that version's same scores.
    seen: dict[tuple[str, int, int], set[tuple[float, ...]]] = defaultdict(set)
    for _, _, start, version, scores in answers:
        seen[(version, start, len(scores))].add(tuple(scores))
    assert all(len(s) == 1 for s in seen.values())
    shared = {(start, n) for (v, start, n) in seen if v == "1"} & {
        (start, n) for (v, start, n) in seen if v == "2"
    }
    assert any(seen[("1", *key)] != seen[("2", *key)] for key in shared), "the versions differ"
    assert 'mlops_serving_model_loads_total{outcome="success",spec="churn"} 3.0' in metrics
    assert len(answers) > 50
