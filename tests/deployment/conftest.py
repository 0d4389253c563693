"""One production Compose stack per module, built from the repository's own files."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import churn_spec, flights_slice_spec, require_service
from tests.deployment.compose_stack import (
    BACKFILL_SPEC,
    ComposeStack,
    compose_binary,
    create_stack,
    engine_reachable,
    remove_stack,
)


def write_test_specs(stack: ComposeStack) -> None:
    """A small unpartitioned churn spec (its CSV beside it, so run containers see it too) and a
    four-day flights slice whose backfills run one partition per run."""
    churn = churn_spec(stack.specs / "customers.csv", rows=600)
    churn["source"]["uri"] = "/specs/customers.csv"
    (stack.specs / "churn.yaml").write_text(yaml.safe_dump(churn, sort_keys=False))
    flights = flights_slice_spec(end="2013-01-05")
    flights["name"] = BACKFILL_SPEC
    flights["time"]["partitions"] = "daily"  # three day partitions, one container each
    flights["time"]["max_partitions_per_run"] = 1
    (stack.specs / f"{BACKFILL_SPEC}.yaml").write_text(yaml.safe_dump(flights, sort_keys=False))
    for path in stack.specs.iterdir():
        path.chmod(0o644)


@pytest.fixture(scope="module")
def stack():
    require_service(engine_reachable(), "Docker engine (DOCKER_HOST)")
    require_service(shutil.which(compose_binary()) is not None, "Docker Compose v2")
    stack = create_stack()
    try:
        write_test_specs(stack)
        result = stack.run("up", "-d", "--build", "--wait", "--quiet-pull")
        if result.returncode != 0:
            pytest.fail(
                f"compose up failed:\n{result.stderr[-6000:]}\n{stack.diagnostics()}",
                pytrace=False,
            )
        yield stack
    finally:
        remove_stack(stack)
