"""Who or what launched a run, from the tags Dagster and the platform put on it.

A re-execution or an automatic retry copies its parent's tags, the parent's
`mlops/trigger` among them; the parent-run tags come first here, so a manual
re-execution of the bootstrap run is recorded as a re-execution, not as the
bootstrap.
"""

from collections.abc import Mapping

TRIGGER = "mlops/trigger"
USER = "mlops/user"
DAGSTER_USER = "dagster/user"
SCHEDULE = "dagster/schedule_name"
SENSOR = "dagster/sensor_name"
BACKFILL = "dagster/backfill"
PARENT_RUN = "dagster/parent_run_id"
RETRY_NUMBER = "dagster/retry_number"
DRIFT_WINDOW = "mlops/drift_window"


def trigger_of(tags: Mapping[str, str]) -> str:
    """Why the run happened: `retry`, `reexecution`, `cli`, `schedule`, `drift`, `bootstrap`,
    `backfill`; `manual` for a launch from the UI with no platform tag."""
    if tags.get(PARENT_RUN):
        return "retry" if tags.get(RETRY_NUMBER) else "reexecution"
    if tags.get(TRIGGER):
        return tags[TRIGGER]
    if tags.get(SCHEDULE):
        return "schedule"
    if tags.get(SENSOR):
        return "sensor"
    if tags.get(BACKFILL):
        return "backfill"
    return "manual"


def launching_user(tags: Mapping[str, str]) -> str | None:
    """The person behind a run, where the deployment or the CLI records one.

    `mlops` commands record the login they ran under (`mlops/user`); Dagster+
    records the signed-in user who launched a run from the UI (`dagster/user`).
    The open-source webserver has no sign-in, so its runs name no user. A
    re-execution or retry is not the parent's user's doing, so it names none.
    """
    if tags.get(PARENT_RUN):
        return tags.get(DAGSTER_USER)
    return tags.get(USER) or tags.get("user") or tags.get(DAGSTER_USER)


def actor_of(tags: Mapping[str, str]) -> str:
    """The user who launched the run, or else the automation that did (`dagster:schedule`, ...)."""
    return launching_user(tags) or f"dagster:{trigger_of(tags)}"


def launched_by(tags: Mapping[str, str]) -> str:
    """What launched a run, if anything did: `retry of RUN`, `schedule:NAME`, `sensor:NAME`, ..."""
    if tags.get(PARENT_RUN):
        kind = "retry" if tags.get(RETRY_NUMBER) else "reexecution"
        origin = f", first launched as {tags[TRIGGER]}" if tags.get(TRIGGER) else ""
        return f"{kind} of run {tags[PARENT_RUN]}{origin}"
    for tag, kind in ((SCHEDULE, "schedule"), (SENSOR, "sensor"), (BACKFILL, "backfill")):
        if tags.get(tag):
            return f"{kind}:{tags[tag]}"
    return ""
