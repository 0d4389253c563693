"""Who or what launched a run, from the tags Dagster and the platform put on it."""

from collections.abc import Mapping

TRIGGER = "mlops/trigger"
USER = "mlops/user"
DAGSTER_USER = "dagster/user"
SCHEDULE = "dagster/schedule_name"
SENSOR = "dagster/sensor_name"
BACKFILL = "dagster/backfill"
DRIFT_WINDOW = "mlops/drift_window"


def trigger_of(tags: Mapping[str, str]) -> str:
    """Why the run happened: `cli`, `schedule`, `drift`, `bootstrap`, `rollback`; `manual` when untagged."""
    return tags.get(TRIGGER, "manual")


def launching_user(tags: Mapping[str, str]) -> str | None:
    """The person behind a run, where the deployment or the CLI records one.

    `mlops` commands record the login they ran under (`mlops/user`); Dagster+
    records the signed-in user who launched a run from the UI (`dagster/user`).
    The open-source webserver has no sign-in, so its runs name no user.
    """
    return tags.get(USER) or tags.get("user") or tags.get(DAGSTER_USER)


def actor_of(tags: Mapping[str, str]) -> str:
    """The user who launched the run, or else the automation that did (`dagster:schedule`, ...)."""
    return launching_user(tags) or f"dagster:{trigger_of(tags)}"


def launched_by(tags: Mapping[str, str]) -> str:
    """The schedule, sensor or backfill that launched a run, if any: `schedule:NAME`, `sensor:NAME`."""
    for tag, kind in ((SCHEDULE, "schedule"), (SENSOR, "sensor"), (BACKFILL, "backfill")):
        if tags.get(tag):
            return f"{kind}:{tags[tag]}"
    return ""
