"""Asset keys, partitions and shared settings of one spec's asset group."""

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from mlops_assets.specs.model import DatasetSpec
from mlops_assets.versioning import PIPELINE_CODE_VERSION

DELTA_IO_MANAGER = "delta_io_manager"


def partition_start(day: dt.date, grain: str) -> dt.date:
    """The first day of the partition of `grain` that holds `day` (weeks start on Monday)."""
    if grain == "monthly":
        return day.replace(day=1)
    if grain == "weekly":
        return day - dt.timedelta(days=day.weekday())
    return day


def partition_end(day: dt.date, grain: str) -> dt.date:
    """The first partition boundary on or after `day` (an exclusive end)."""
    start = partition_start(day, grain)
    if start == day:
        return day
    if grain == "monthly":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(weeks=1)


@dataclass(frozen=True)
class SpecAssets:
    """The keys and shared settings of every asset in one spec's group."""

    spec: DatasetSpec

    def key(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([self.spec.name, name])

    @property
    def raw(self) -> dg.AssetKey:
        return self.key("raw")

    @property
    def validated(self) -> dg.AssetKey:
        return self.key("validated")

    @property
    def rejected_rows(self) -> dg.AssetKey:
        return self.key("rejected_rows")

    @property
    def features(self) -> dg.AssetKey:
        return self.key("features")

    @property
    def training_set(self) -> dg.AssetKey:
        return self.key("training_set")

    @property
    def model(self) -> dg.AssetKey:
        return self.key("model")

    @property
    def evaluation(self) -> dg.AssetKey:
        return self.key("evaluation")

    @property
    def promotion(self) -> dg.AssetKey:
        return self.key("promotion")

    @property
    def model_card(self) -> dg.AssetKey:
        return self.key("model_card")

    @property
    def training_assets(self) -> list[dg.AssetKey]:
        """What one training materializes, in order: every training path (CLI, schedule,
        drift sensor) selects exactly these, so each new model version gets its decision and card."""
        return [self.training_set, self.model, self.evaluation, self.promotion, self.model_card]

    @property
    def predictions(self) -> dg.AssetKey:
        return self.key("predictions")

    @property
    def drift(self) -> dg.AssetKey:
        return self.key("drift")

    @property
    def training_pool(self) -> str:
        """The concurrency pool of the spec's model and gate steps: one at a time, every launch path."""
        return f"mlops_training_{self.spec.name}"

    @property
    def group(self) -> str:
        return self.spec.name

    @property
    def backtest_group(self) -> str:
        """The group of the on-demand policy backtest (a long replay): kept out of the spec's
        group, so "Materialize all" there never starts it."""
        return f"{self.spec.name}_backtest"

    @property
    def owners(self) -> list[str]:
        return [self.spec.owner]

    def code_version(self, asset_version: str) -> str:
        """Asset logic version plus the spec fingerprint: a spec edit marks assets stale."""
        return f"{PIPELINE_CODE_VERSION}.{asset_version}-{self.spec.fingerprint()}"

    def asset_args(self, key: dg.AssetKey, asset_version: str) -> dict:
        """What every asset of the group shares: its key, group, owners, tags and code version."""
        return {
            "key": key,
            "group_name": self.group,
            "owners": self.owners,
            "tags": self.tags,
            "code_version": self.code_version(asset_version),
        }

    @property
    def tags(self) -> dict[str, str]:
        return {"mlops/spec": self.spec.name, "mlops/task": self.spec.target.task}

    @property
    def partitions_def(self) -> dg.TimeWindowPartitionsDefinition | None:
        """Dagster partitions at `time.partitions` (default monthly for daily windows).

        The first and last partitions are widened to whole partitions; rows before
        `time.start` or after `time.end` are counted by the raw asset, not stored. An
        open-ended spec with partitions coarser than its windows includes the partition
        in progress, so this month's days are monitored as they arrive.
        """
        time = self.spec.event_time
        if time is None or time.start is None:
            return None
        grain = time.partition_grain
        start = partition_start(time.start, grain).isoformat()
        end = partition_end(time.end, grain).isoformat() if time.end else None
        offset = 1 if time.end is None and grain != time.grain else 0
        if grain == "daily":
            return dg.DailyPartitionsDefinition(start_date=start, end_date=end, end_offset=offset)
        if grain == "weekly":
            return dg.WeeklyPartitionsDefinition(
                start_date=start, end_date=end, day_offset=1, end_offset=offset
            )
        return dg.MonthlyPartitionsDefinition(start_date=start, end_date=end, end_offset=offset)

    @property
    def backfill_policy(self) -> dg.BackfillPolicy | None:
        """One run per backfill, unless the spec asks for parallel runs of N partitions."""
        time = self.spec.event_time
        if time is None:
            return None
        if time.max_partitions_per_run is None:
            return dg.BackfillPolicy.single_run()
        return dg.BackfillPolicy.multi_run(time.max_partitions_per_run)
