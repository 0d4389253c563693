"""The seeded sample a review trains on, and the copy of a spec that reads it.

A review trains two versions of a spec on the same rows, so the rows are chosen
once, by position in the source: a seeded random key per row, and within each
monitoring window of a timed spec (each day, week or month) the rows with the smallest
keys, at least one per window. Every time window keeps its share of rows, so
the spec's time split lands where it would on the whole table. Only rows inside
the spec's time range are candidates (the others are never ingested). A spec
without time is sampled over the whole table.

The sample is written as Parquet with one extra column, `_review_row` (the row's
position in the source), and the review's copy of the spec points at it. The
copy declares `_review_row` an identifier, so it is never a feature and both
models' rows can be matched one to one. The random split keeps the spec's own
key (`split.key`, else its `id_columns`); a spec without either is split on
`_review_row` rather than on the row's content, so both versions of a spec
split the sample the same way even when their columns differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.ingest.raw_batch import event_time_expr, window_expr
from mlops_assets.ingest.sources import collect_source, scan_source
from mlops_assets.specs.model import DatasetSpec

REVIEW_ROW = "_review_row"
DEFAULT_SEED = 42
_KEY, _GROUP = "_review_key", "_review_group"


class SampleError(ValueError):
    """The source cannot be sampled as asked."""


@dataclass(frozen=True, eq=False)
class RowSample:
    """Which source rows a review trains on: their positions, and how they were chosen."""

    fraction: float
    seed: int
    source_rows: int
    eligible_rows: int
    positions: np.ndarray
    partitions: int | None

    @property
    def rows(self) -> int:
        return len(self.positions)

    def describe(self) -> str:
        if self.partitions is None:
            return (
                f"{self.rows:,} of {self.source_rows:,} source rows "
                f"({self.fraction:g} sample, seed {self.seed})"
            )
        return (
            f"{self.rows:,} of the {self.eligible_rows:,} source rows in the spec's time range "
            f"({self.fraction:g} sample within each of its {self.partitions:,} windows, "
            f"seed {self.seed})"
        )


def read_source(spec: DatasetSpec) -> pl.DataFrame:
    """The whole source, read as the raw asset reads it (declared columns as text)."""
    return collect_source(scan_source(spec.source, set(spec.columns)), spec.source)


def choose_rows(spec: DatasetSpec, source: pl.DataFrame, fraction: float, seed: int) -> RowSample:
    """The positions of a seeded `fraction` of the rows, taken within each partition of a timed spec."""
    if not 0 < fraction <= 1:
        raise SampleError(f"--sample {fraction:g}: the fraction must be in (0, 1]")
    if source.height == 0:
        raise SampleError(f"{spec.source.uri}: the source has no rows to sample")
    keyed = source.select(
        pl.Series(_KEY, np.random.default_rng(seed).random(source.height)),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(REVIEW_ROW),
    )
    partitions = None
    if spec.time is None:
        keyed = keyed.with_columns(pl.lit(0).alias(_GROUP))
    else:
        missing = [c for c in spec.time.source_columns if c not in source.columns]
        if missing:
            raise SampleError(
                f"{spec.source.uri}: time column(s) {missing} not found (rule: time.* in spec "
                f"`{spec.name}`)"
            )
        group = source.select(
            event_time_expr(spec.time, source.schema).alias("_event_time")
        ).select(window_expr(spec.time).alias(_GROUP))
        in_range = pl.col(_GROUP) >= spec.time.start
        if spec.time.end is not None:
            in_range &= pl.col(_GROUP) < spec.time.end
        keyed = keyed.with_columns(group[_GROUP]).filter(in_range)
        if keyed.height == 0:
            raise SampleError(
                f"{spec.source.uri}: no row falls in the spec's time range "
                f"({spec.time.start} .. {spec.time.end or 'now'})"
            )
        partitions = keyed[_GROUP].n_unique()
    eligible = keyed.height
    kept = keyed.filter(
        pl.col(_KEY).rank("ordinal").over(_GROUP)
        <= (pl.len().over(_GROUP) * fraction).ceil().clip(lower_bound=1)
    )
    positions = kept[REVIEW_ROW].sort().to_numpy()
    return RowSample(fraction, seed, source.height, eligible, positions, partitions)


def sample_frame(source: pl.DataFrame, sample: RowSample) -> pl.DataFrame:
    """The sampled rows of `source`, in source order, with their position as `_review_row`."""
    if source.height != sample.source_rows:
        raise SampleError(
            f"the source has {source.height:,} rows, the sample was drawn from {sample.source_rows:,}"
        )
    if REVIEW_ROW in source.columns:
        raise SampleError(f"the source already has a column named {REVIEW_ROW}")
    positions = pl.Series(REVIEW_ROW, sample.positions, dtype=pl.Int64)
    return source[sample.positions].with_columns(positions)


def review_copy(spec: DatasetSpec, sample_path: Path) -> DatasetSpec:
    """The spec as the review trains it: reading the sample, `_review_row` an identifier."""
    data = spec.model_dump(mode="json")
    data["source"] = {**data["source"], "uri": str(sample_path), "format": "parquet"}
    data["source"]["storage_options"] = {}
    data["split"]["key"] = list(spec.split.key or spec.id_columns or [REVIEW_ROW])
    data["id_columns"] = [*spec.id_columns, REVIEW_ROW]
    return DatasetSpec.model_validate(data)


def write_sample(
    spec: DatasetSpec, source: pl.DataFrame, sample: RowSample, folder: Path
) -> DatasetSpec:
    """Write the sampled rows of `source` as Parquet in `folder`; the review's copy of `spec` reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}_sample.parquet"
    sample_frame(source, sample).write_parquet(path)
    return review_copy(spec, path)
