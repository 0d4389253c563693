"""The audit trail of a spec's champion: who or what changed it, when, why, with which evidence.

The trail is the promotion asset's event history in Dagster: every gate
decision (promoted or rejected) is a materialization of the run that trained
the challenger, and every `mlops rollback` adds a runless one. Each event is
joined with its run's tags (trigger, schedule or sensor, launching user) and
with MLflow (the decision record and model card of the version). MLflow's own
alias-move tags are read too: a move recorded there but not in Dagster still
shows, marked `source: mlflow`, and a champion alias that no recorded event
explains is reported.
"""

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import dagster as dg
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_assets.assets.metadata import table_rows
from mlops_assets.governance.actors import launched_by, launching_user
from mlops_assets.governance.card_publishing import CARD_TAG
from mlops_assets.governance.recorded_events import materializations, metadata_values
from mlops_assets.serving.champion import champion_version
from mlops_assets.training.gate_record import (
    ABANDONED,
    GATE_REASON_TAG,
    GATE_TAG,
    RUN_TAG,
    is_undecided,
)

MLFLOW_ACTIONS = {"promotion": "promoted", "rollback": "rollback"}
SAME_MOVE_SECONDS = 300


@dataclass(frozen=True)
class AuditEvent:
    """One decision about the champion, with who made it and on what evidence."""

    at: str
    action: str
    model_version: str
    champion_before: str | None
    champion_after: str | None
    actor: str
    trigger: str
    reason: str
    run_id: str | None = None
    launched_by: str = ""
    user: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    source: str = "dagster"

    @property
    def changed_champion(self) -> bool:
        return self.champion_after is not None and self.champion_after != self.champion_before

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed_champion": self.changed_champion}


@dataclass(frozen=True)
class AuditTrail:
    """Every recorded decision about one spec's champion, oldest first."""

    spec: str
    model_name: str
    champion: str | None
    events: list[AuditEvent]
    ungated: list[dict[str, str]] = field(default_factory=list)

    @property
    def recorded_champion(self) -> str | None:
        changes = [e for e in self.events if e.changed_champion]
        return changes[-1].champion_after if changes else None

    @property
    def explained(self) -> bool:
        """Whether the champion alias points where the last recorded change left it."""
        return self.champion == self.recorded_champion

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "model_name": self.model_name,
            "champion": self.champion,
            "recorded_champion": self.recorded_champion,
            "champion_explained_by_trail": self.explained,
            "events": [e.to_dict() for e in self.events],
            "ungated_versions": self.ungated,
        }


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _version(value: Any) -> str | None:
    if value in (None, "", "none", 0):
        return None
    return str(value)


def _mlflow_evidence(
    client: MlflowClient, model_name: str, version: str, *, gate: bool
) -> dict[str, Any]:
    """The MLflow records behind a decision about `version`: the gate's decision record
    (for a gate decision) and the version's model card."""
    try:
        model_version = client.get_model_version(model_name, version)
    except MlflowException:
        return {"mlflow": f"{model_name} v{version} is not in the registry"}
    evidence = {}
    if gate:
        evidence["decision_record"] = f"runs:/{model_version.run_id}/promotion/decision.json"
    else:
        evidence["registry_tags"] = f"mlops.rollback_at/_by/_reason on {model_name} v{version}"
    if CARD_TAG in model_version.tags:
        evidence["model_card"] = model_version.tags[CARD_TAG]
    return evidence


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _recorded_decision(values: dict[str, Any]) -> dict[str, Any]:
    """The gate's figures from a promotion materialization: its metric keys and `evidence` table
    (materializations before those stored them as one `decision_json` blob)."""
    if "decision_json" in values:
        return dict(values["decision_json"])
    metric = str(values.get("metric", ""))
    return {
        "metric": metric,
        "challenger_metric": _finite(values.get(f"challenger_{metric}")),
        "champion_metric": _finite(values.get(f"champion_{metric}")),
        "baseline_metric": _finite(values.get(f"baseline_{metric}")),
        "checks": {row["check"]: row["passed"] for row in table_rows(values.get("evidence"))},
        "training_set_version": values.get("training_set_version"),
    }


def _gate_event(
    values: dict[str, Any], at: str, run_id: str | None, tags: dict[str, str]
) -> AuditEvent:
    decision = _recorded_decision(values)
    metric = decision.get("metric", "")
    return AuditEvent(
        at=at,
        action=str(values["decision"]),
        model_version=str(values["challenger_version"]),
        champion_before=_version(values.get("champion_before")),
        champion_after=_version(values.get("champion_version")),
        actor=str(values.get("actor", "")),
        trigger=str(values.get("trigger", "")),
        reason=str(values.get("reason", "")),
        run_id=run_id,
        launched_by=launched_by(tags),
        user=launching_user(tags),
        evidence={
            "metric": metric,
            "challenger": decision.get("challenger_metric"),
            "champion": decision.get("champion_metric"),
            "baseline": decision.get("baseline_metric"),
            "checks": decision.get("checks", {}),
            "training_set_version": decision.get("training_set_version"),
        },
    )


def _rollback_event(
    values: dict[str, Any], at: str, run_id: str | None, tags: dict[str, str]
) -> AuditEvent:
    target = str(values["champion_version"])
    replaced = _version(values.get("champion_before"))
    return AuditEvent(
        at=at,
        action="rollback",
        model_version=target,
        champion_before=replaced,
        champion_after=target,
        actor=str(values.get("actor", "")),
        trigger=str(values.get("trigger", "rollback")),
        reason=str(values.get("reason", "")),
        run_id=run_id,
        launched_by=launched_by(tags),
        user=launching_user(tags),
        evidence={"replaced_version": replaced, "restored_version": target},
    )


def dagster_events(
    instance: dg.DagsterInstance, client: MlflowClient, promotion: dg.AssetKey, model_name: str
) -> list[AuditEvent]:
    """The promotion asset's history as audit events, oldest first."""
    events = []
    runs: dict[str, dict[str, str]] = {}
    for record in materializations(instance, promotion, newest_first=False):
        values = metadata_values(record)
        if "decision" not in values:
            continue
        run_id = record.run_id or None
        if run_id and run_id not in runs:
            run = instance.get_run_by_id(run_id)
            runs[run_id] = dict(run.tags) if run else {}
        tags = runs.get(run_id, {}) if run_id else {}
        build = _rollback_event if values["decision"] == "rollback" else _gate_event
        event = build(values, _iso(record.timestamp), run_id, tags)
        backing = _mlflow_evidence(
            client, model_name, event.model_version, gate=build is _gate_event
        )
        events.append(replace(event, evidence={**event.evidence, **backing}))
    return events


def _parse(at: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at)


def registry_only_events(
    client: MlflowClient, model_name: str, recorded: list[AuditEvent]
) -> list[AuditEvent]:
    """Alias moves whose MLflow tags (mlops.promotion_*, mlops.rollback_*) no Dagster event matches."""
    found = []
    for model_version in client.search_model_versions(f"name = '{model_name}'"):
        tags = model_version.tags
        for action, name in MLFLOW_ACTIONS.items():
            at = tags.get(f"mlops.{action}_at")
            if not at:
                continue
            matched = any(
                e.action == name
                and e.model_version == str(model_version.version)
                and abs((_parse(e.at) - _parse(at)).total_seconds()) <= SAME_MOVE_SECONDS
                for e in recorded
            )
            if not matched:
                found.append(
                    AuditEvent(
                        at=at,
                        action=name,
                        model_version=str(model_version.version),
                        champion_before=_moved_from(tags, action, at),
                        champion_after=str(model_version.version),
                        actor=tags.get(f"mlops.{action}_by", ""),
                        trigger=action,
                        reason=tags.get(f"mlops.{action}_reason", ""),
                        evidence=_mlflow_evidence(
                            client,
                            model_name,
                            str(model_version.version),
                            gate=action != "rollback",
                        ),
                        source="mlflow",
                    )
                )
    return found


def _moved_from(tags: dict[str, str], action: str, at: str) -> str | None:
    """The champion a recorded alias move replaced (`mlops.last_alias_move`), when it is this move."""
    try:
        move = json.loads(tags.get("mlops.last_alias_move", "{}"))
    except json.JSONDecodeError:
        return None
    if move.get("action") == action and move.get("at") == at:
        return _version(move.get("from_version"))
    return None


def gate_record_events(client: MlflowClient, model_name: str) -> list[AuditEvent]:
    """Versions the gate never decided on: abandoned by a later gate (an event each)."""
    events = []
    for model_version in client.search_model_versions(f"name = '{model_name}'"):
        tags = model_version.tags
        if tags.get(GATE_TAG) != ABANDONED:
            continue
        at = _iso(model_version.last_updated_timestamp / 1000)
        events.append(
            AuditEvent(
                at=at,
                action="abandoned",
                model_version=str(model_version.version),
                champion_before=None,
                champion_after=None,
                actor="dagster:gate",
                trigger="gate",
                reason=f"never gated: {tags.get(GATE_REASON_TAG, '')}",
                run_id=tags.get(RUN_TAG),
                source="mlflow",
            )
        )
    return events


def ungated_versions(client: MlflowClient, model_name: str) -> list[dict[str, str]]:
    """Registered versions with no gate decision (their run may still be going, or have died)."""
    return [
        {
            "version": str(v.version),
            "registered_at": _iso(v.creation_timestamp / 1000),
            "dagster_run_id": v.tags.get(RUN_TAG, ""),
        }
        for v in sorted(
            client.search_model_versions(f"name = '{model_name}'"), key=lambda v: int(v.version)
        )
        if is_undecided(v)
    ]


def audit_trail(
    instance: dg.DagsterInstance,
    client: MlflowClient,
    spec_name: str,
    model_name: str,
    promotion: dg.AssetKey,
) -> AuditTrail:
    """Every recorded decision about the champion of `model_name`, oldest first."""
    events = dagster_events(instance, client, promotion, model_name)
    events += registry_only_events(client, model_name, events)
    events += gate_record_events(client, model_name)
    events.sort(key=lambda e: _parse(e.at))
    return AuditTrail(
        spec_name,
        model_name,
        champion_version(client, model_name),
        events,
        ungated_versions(client, model_name),
    )


def _metric_line(evidence: dict[str, Any]) -> str:
    def number(value: Any) -> str:
        return "n/a" if value is None else f"{float(value):.4f}"

    if "challenger" not in evidence:
        return ""
    return (
        f"{evidence.get('metric')} {number(evidence.get('challenger'))} vs champion "
        f"{number(evidence.get('champion'))}, baseline {number(evidence.get('baseline'))}; "
        f"training set v{evidence.get('training_set_version')}"
    )


def render_audit(trail: AuditTrail) -> str:
    """The trail as text for a terminal: one block per event, oldest first."""
    lines = [
        f"{trail.model_name}: champion v{trail.champion} ({len(trail.events)} recorded decisions)"
        if trail.champion
        else f"{trail.model_name}: no champion ({len(trail.events)} recorded decisions)"
    ]
    if trail.champion and not trail.explained:
        lines.append(
            f"WARNING: the champion alias points at v{trail.champion}, but the last recorded change "
            f"left v{trail.recorded_champion}: the alias was moved outside the platform."
        )
    for entry in trail.ungated:
        run = f" by run {entry['dagster_run_id']}" if entry["dagster_run_id"] else ""
        lines.append(
            f"UNGATED: v{entry['version']} (registered {entry['registered_at']}{run}) has no gate "
            "decision yet: its run is still going, or it died and the next gate marks it abandoned"
        )
    for event in trail.events:
        before = f"v{event.champion_before}" if event.champion_before else "none"
        after = f"v{event.champion_after}" if event.champion_after else "none"
        via = f", {event.launched_by}" if event.launched_by else ""
        run = f", run {event.run_id}" if event.run_id else ""
        lines.append(
            f"{event.at}  {event.action:<9} v{event.model_version:<4} champion {before} -> {after}"
        )
        lines.append(f"    by {event.actor} (trigger {event.trigger}{via}{run}; {event.source})")
        if event.reason:
            lines.append(f"    why: {event.reason}")
        metrics = _metric_line(event.evidence)
        if metrics:
            lines.append(f"    evidence: {metrics}")
        for key in ("decision_record", "registry_tags", "model_card"):
            if key in event.evidence:
                lines.append(f"    {key.replace('_', ' ')}: {event.evidence[key]}")
    return "\n".join(lines)
