"""Whether each registered model version went through the promotion gate.

A version is registered `pending`; the gate marks it `promoted` or `rejected`.
A run that dies between registration and the gate leaves its version pending:
the next gate of the spec marks it `abandoned` (with the dead run named), and
`mlops audit` lists every version still pending as ungated. So no version can
sit in the registry without a recorded decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

GATE_TAG = "mlops.gate"
GATE_REASON_TAG = "mlops.gate_reason"
RUN_TAG = "mlops.dagster_run_id"
PENDING, PROMOTED, REJECTED, ABANDONED = "pending", "promoted", "rejected", "abandoned"
# The gate's decision as JSON, logged on the challenger's training run.
DECISION_ARTIFACT = "promotion/decision.json"


def mark_pending(client: MlflowClient, model_name: str, version: str, run_id: str) -> None:
    """A new version awaits its gate decision; `run_id` is the Dagster run that trained it."""
    client.set_model_version_tag(model_name, version, RUN_TAG, run_id)
    client.set_model_version_tag(model_name, version, GATE_TAG, PENDING)


def mark_decided(
    client: MlflowClient, model_name: str, version: str, state: str, reason: str
) -> None:
    client.set_model_version_tag(model_name, version, GATE_TAG, state)
    client.set_model_version_tag(model_name, version, GATE_REASON_TAG, reason[:5000])


DECIDED_BEFORE_GATE_TAGS = ("mlops.promotion_at", "mlops.rejected_reason", "mlops.rollback_at")


def is_undecided(model_version: ModelVersion) -> bool:
    """Pending, or registered with no gate record at all (killed before it was tagged).

    Versions from before gate records existed count as decided when they carry a
    promotion, rejection or rollback tag.
    """
    state = model_version.tags.get(GATE_TAG)
    if state is not None:
        return state == PENDING
    return not any(tag in model_version.tags for tag in DECIDED_BEFORE_GATE_TAGS)


def pending_versions(client: MlflowClient, model_name: str) -> list[ModelVersion]:
    """Registered versions with no gate decision yet, oldest first."""
    versions = client.search_model_versions(f"name = '{model_name}'")
    return sorted((v for v in versions if is_undecided(v)), key=lambda v: int(v.version))


def _training_dagster_run(client: MlflowClient, model_version: ModelVersion) -> str:
    """The Dagster run recorded on the version's MLflow run (for a version killed before its tags)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(model_version.run_id).data.tags.get("dagster_run_id", "")
    except MlflowException:
        return ""


def abandon_orphans(
    client: MlflowClient,
    model_name: str,
    run_finished: Callable[[str], str | None],
    keep: str,
) -> list[str]:
    """Mark `abandoned` every pending version (but `keep`) whose training run has ended.

    `run_finished(run_id)` returns the run's final status (e.g. `FAILURE`), or None
    while it is still going (then its gate may still come).
    """
    abandoned = []
    for model_version in pending_versions(client, model_name):
        version = str(model_version.version)
        if version == str(keep):
            continue
        run_id = model_version.tags.get(RUN_TAG) or _training_dagster_run(client, model_version)
        status = run_finished(run_id) if run_id else "unknown"
        if status is None:
            continue
        reason = f"its training run {run_id or '(unrecorded)'} ended ({status}) before the gate"
        mark_decided(client, model_name, version, ABANDONED, reason)
        abandoned.append(version)
    return abandoned
