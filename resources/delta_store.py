"""Versioned table storage on Delta Lake.

Every write is a new Delta table version, so any past materialization can be
read back exactly (time travel) and a write either lands whole or not at all.
A partitioned asset owns a time range of rows, marked by its partition column;
a write replaces that range and nothing else, whether the range holds one
partition or a whole single-run backfill.
"""

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from resources.object_storage import OBJECT_STORE_CREDENTIALS, object_store_settings

PARTITION_COLUMN = "_partition"


def default_data_root() -> str:
    """`MLOPS_DATA_ROOT` if set, else the `tables` folder inside `DAGSTER_HOME`."""
    if os.environ.get("MLOPS_DATA_ROOT"):
        return os.environ["MLOPS_DATA_ROOT"]
    return str(Path(os.environ.get("DAGSTER_HOME", ".dagster_home")).resolve() / "tables")


def _sql_date(value: dt.datetime | dt.date) -> str:
    return value.strftime("%Y-%m-%d")


class DeltaStore(dg.ConfigurableResource):
    """Reads and writes one Delta table per asset under `root_uri` (a folder or `s3://` URI).

    `storage_options` holds object-store settings (endpoint, region); the credentials are
    separate fields, set with `dg.EnvVar` so their values never show in config.
    """

    root_uri: str
    storage_options: dict[str, str] = {}
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""

    def object_store_options(self) -> dict[str, str] | None:
        """Settings plus credentials, as delta-rs storage options; None for a local folder."""
        options = dict(self.storage_options)
        for field, option in OBJECT_STORE_CREDENTIALS.items():
            if getattr(self, field):
                options[option] = getattr(self, field)
        return options or None

    def table_uri(self, asset_key: dg.AssetKey) -> str:
        root = self.root_uri.rstrip("/")
        if "://" not in root:
            Path(root).mkdir(parents=True, exist_ok=True)
        return "/".join([root, *asset_key.path])

    def version(self, asset_key: dg.AssetKey) -> int | None:
        """The current table version, or None when the table does not exist yet."""
        try:
            return DeltaTable(
                self.table_uri(asset_key), storage_options=self.object_store_options()
            ).version()
        except TableNotFoundError:
            return None

    def write(
        self,
        asset_key: dg.AssetKey,
        frame: pl.DataFrame,
        window: dg.TimeWindow | None = None,
    ) -> int:
        """Write `frame` as a new version; with a window, replace only the rows of that window."""
        uri = self.table_uri(asset_key)
        options: dict[str, object] = {}
        exists = self.version(asset_key) is not None
        if window is not None and exists:
            options["predicate"] = (
                f"{PARTITION_COLUMN} >= '{_sql_date(window.start)}' "
                f"AND {PARTITION_COLUMN} < '{_sql_date(window.end)}'"
            )
        if exists:
            # A window shares the table with other windows, so columns merge; a whole-table
            # write replaces the schema too, so a column the source dropped does not linger.
            options["schema_mode"] = "merge" if window is not None else "overwrite"
        frame.write_delta(
            uri,
            mode="overwrite",
            storage_options=self.object_store_options(),
            delta_write_options=options or None,
        )
        version = self.version(asset_key)
        assert version is not None
        return version

    def append(self, asset_key: dg.AssetKey, frame: pl.DataFrame) -> int:
        """Append `frame` as a new version (new columns are added to the schema); for tables
        that grow by writes from outside Dagster, such as the online service's landing table."""
        frame.write_delta(
            self.table_uri(asset_key),
            mode="append",
            storage_options=self.object_store_options(),
            delta_write_options={"schema_mode": "merge"},
        )
        version = self.version(asset_key)
        assert version is not None
        return version

    def scan(
        self,
        asset_key: dg.AssetKey,
        window: dg.TimeWindow | None = None,
        version: int | None = None,
    ) -> pl.LazyFrame:
        """A lazy view of the table (at `version` if given), limited to `window` if given."""
        uri = self.table_uri(asset_key)
        if self.version(asset_key) is None:
            raise dg.Failure(
                f"table {uri} for asset {asset_key.to_user_string()} does not exist yet: "
                "materialize the upstream asset first"
            )
        lazy = pl.scan_delta(uri, version=version, storage_options=self.object_store_options())
        if window is not None:
            lazy = lazy.filter(
                (pl.col(PARTITION_COLUMN) >= window.start.date())
                & (pl.col(PARTITION_COLUMN) < window.end.date())
            )
        return lazy

    def read(
        self,
        asset_key: dg.AssetKey,
        window: dg.TimeWindow | None = None,
        version: int | None = None,
    ) -> pl.DataFrame:
        return self.scan(asset_key, window, version).collect()


class DeltaTableIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as Delta tables and reports the table version it wrote.

    dagster-deltalake-polars matches a time partition by its start alone, so a
    single-run backfill of a range would replace and read only its first day;
    this IO manager replaces and reads the whole range.
    """

    store: DeltaStore

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        window = context.asset_partitions_time_window if context.has_asset_partitions else None
        version = self.store.write(context.asset_key, obj, window)
        context.add_output_metadata(
            {
                "delta_version": dg.MetadataValue.int(version),
                "table_uri": dg.MetadataValue.path(self.store.table_uri(context.asset_key)),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        window = context.asset_partitions_time_window if context.has_asset_partitions else None
        return self.store.read(context.asset_key, window)


def delta_store_from_environment(env: Mapping[str, str] = os.environ) -> DeltaStore:
    """The deployment's Delta store for a process that is not a Dagster run (the online
    service): the same root and object-store settings, credentials read from `env` directly."""
    credentials = {
        field: env[variable]
        for field, variable in OBJECT_STORE_CREDENTIALS.items()
        if env.get(variable)
    }
    return DeltaStore(
        root_uri=default_data_root(), storage_options=object_store_settings(env), **credentials
    )
