"""The champion: the registered model version that serves, named by an MLflow alias.

Promotion moves the `champion` alias to a new version and keeps the one it
replaced under `previous_champion`, so a rollback is one alias move. Every move
is written on the model versions as tags (who or what, when, why), which is the
registry's own audit trail.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


@dataclass(frozen=True)
class AliasMove:
    """One change of champion, as recorded."""

    model_name: str
    action: str
    from_version: str | None
    to_version: str
    reason: str
    actor: str
    at: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def champion_version(client: MlflowClient, model_name: str) -> str | None:
    """The version the `champion` alias points at, or None before the first promotion."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ChampionMoved(RuntimeError):
    """The champion alias changed between the decision and the move: nothing was moved."""


_UNCHECKED = object()


def move_champion(
    client: MlflowClient,
    model_name: str,
    to_version: str,
    *,
    action: str,
    reason: str,
    actor: str,
    expected_current: str | object | None = _UNCHECKED,
) -> AliasMove:
    """Point `champion` at `to_version`, keep the old one as `previous_champion`, record why.

    With `expected_current`, the move is a compare-and-set: if the champion is no
    longer the version the decision was made against, nothing moves and
    `ChampionMoved` is raised. After the move the aliases are read back, so a
    concurrent writer is detected rather than silently lost.
    """
    current = champion_version(client, model_name)
    if expected_current is not _UNCHECKED and current != expected_current:
        raise ChampionMoved(
            f"{model_name}: the champion is v{current}, not v{expected_current} as when the "
            f"decision about v{to_version} was made; decide again"
        )
    if current == to_version:
        raise ValueError(f"{model_name} version {to_version} is already the champion")
    client.get_model_version(model_name, to_version)
    move = AliasMove(model_name, action, current, to_version, reason, actor, _now())
    if current is not None:
        client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION, current)
        client.set_model_version_tag(model_name, current, "mlops.retired_at", move.at)
    client.set_registered_model_alias(model_name, CHAMPION, to_version)
    client.set_model_version_tag(model_name, to_version, f"mlops.{action}_at", move.at)
    client.set_model_version_tag(model_name, to_version, f"mlops.{action}_reason", reason[:5000])
    client.set_model_version_tag(model_name, to_version, f"mlops.{action}_by", actor)
    client.set_model_version_tag(
        model_name, to_version, "mlops.last_alias_move", json.dumps(move.to_dict())
    )
    now_serving = champion_version(client, model_name)
    kept = alias_version(client, model_name, PREVIOUS_CHAMPION)
    if now_serving != to_version or (current is not None and kept != current):
        raise ChampionMoved(
            f"{model_name}: after moving champion v{current} -> v{to_version}, the registry shows "
            f"champion v{now_serving}, previous v{kept}: another writer moved it at the same time"
        )
    return move


def rollback(
    client: MlflowClient, model_name: str, to_version: str | None, *, reason: str, actor: str
) -> AliasMove:
    """Give the champion alias back to `to_version` (default: the previous champion)."""
    target = to_version or alias_version(client, model_name, PREVIOUS_CHAMPION)
    if target is None:
        raise ValueError(
            f"{model_name} has no previous champion to roll back to; name one with --to"
        )
    return move_champion(
        client, model_name, str(target), action="rollback", reason=reason, actor=actor
    )
