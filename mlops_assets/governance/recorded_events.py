"""Reading what the Dagster instance recorded about an asset: its materializations and their metadata."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from dagster._core.event_api import EventLogRecord

PAGE = 100


def metadata_values(record: EventLogRecord) -> dict[str, Any]:
    """A materialization's metadata as plain values (numbers, text, JSON, markdown)."""
    materialization = record.asset_materialization
    if materialization is None:
        return {}
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey, *, newest_first: bool = True
) -> Iterator[EventLogRecord]:
    """Every recorded materialization of `key`, page by page, runless ones included."""
    cursor = None
    while True:
        page = instance.fetch_materializations(
            key, limit=PAGE, cursor=cursor, ascending=not newest_first
        )
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def newest_materialization(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    matches: Callable[[dict[str, Any]], bool] = lambda _: True,
    *,
    look_back: int = 200,
) -> EventLogRecord | None:
    """The newest materialization of `key` whose metadata `matches`, among the last `look_back`."""
    for seen, record in enumerate(materializations(instance, key)):
        if seen >= look_back:
            return None
        if matches(metadata_values(record)):
            return record
    return None


def newest_training_data(
    instance: dg.DagsterInstance, training_set: dg.AssetKey
) -> dt.datetime | None:
    """The newest row of the latest training set (its `data_through`), the cooldown's anchor."""
    record = next(materializations(instance, training_set), None)
    value = metadata_values(record).get("data_through") if record else None
    return dt.datetime.fromisoformat(str(value)) if value else None


def rejected_in_a_row(instance: dg.DagsterInstance, promotion: dg.AssetKey) -> int:
    """How many gate decisions in a row, newest first, rejected the challenger."""
    count = 0
    for record in materializations(instance, promotion):
        decision = metadata_values(record).get("decision")
        if decision != "rejected":
            return count
        count += 1
    return count
