"""Reading tables from paths, globs, package resources and object stores.

Columns whose type the spec declares are read as text, so a value that does
not fit the declared type reaches validation intact and is rejected there with
its reason, instead of failing the read or turning silently into a null.
"""

from __future__ import annotations

import functools
import glob
import gzip
import hashlib
import importlib.util
import io
import os
import zipfile
from pathlib import Path

import polars as pl

from mlops_assets.specs.model import SourceSpec

PACKAGE_SCHEME = "package://"


class SourceError(ValueError):
    """A source that cannot be read, with the file named."""


def resolve_uri(uri: str) -> str:
    """Turn `package://pkg/relative/path` into a file path; other URIs pass through."""
    if not uri.startswith(PACKAGE_SCHEME):
        return os.path.expanduser(uri)
    package, _, relative = uri[len(PACKAGE_SCHEME) :].partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise SourceError(f"{uri}: package `{package}` is not installed")
    return str(Path(next(iter(found.submodule_search_locations))) / relative)


def _local_files(path: str) -> list[str]:
    if "://" in path:
        return []
    files = sorted(glob.glob(path)) if any(ch in path for ch in "*?[") else [path]
    return [f for f in files if os.path.isfile(f)]


@functools.lru_cache(maxsize=32)
def _fingerprint_files(files: tuple[str, ...], stamps: tuple[tuple[int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name in files:
        with open(name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def source_fingerprint(source: SourceSpec) -> str:
    """Content hash of the local source files; for remote sources, a hash of the URI."""
    path = resolve_uri(source.uri)
    files = _local_files(path)
    if not files:
        if source.resolved_format == "delta" and os.path.isdir(path):
            from deltalake import DeltaTable

            return f"delta-v{DeltaTable(path).version()}"
        return hashlib.sha256(path.encode()).hexdigest()[:16]
    stamps = tuple((os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    return _fingerprint_files(tuple(files), stamps)


def _csv_kwargs(source: SourceSpec) -> dict:
    csv = source.csv
    return {
        "separator": csv.separator,
        "null_values": csv.null_values,
        "has_header": csv.has_header,
        "quote_char": csv.quote_char,
        "encoding": csv.encoding,
        "decimal_comma": csv.decimal_comma,
        "skip_rows": csv.skip_rows,
        "infer_schema_length": csv.infer_schema_length,
    }


def _text_overrides(header: list[str], source: SourceSpec, text_columns: set[str]) -> dict:
    """Read declared columns as text; columns the file lacks are left for validation to report."""
    names = source.csv.column_names or header
    by_name = dict(zip(names, header, strict=False))
    return {by_name[c]: pl.String for c in text_columns if c in by_name}


def _named(lazy: pl.LazyFrame, source: SourceSpec) -> pl.LazyFrame:
    names = source.csv.column_names
    if not names:
        return lazy
    current = lazy.collect_schema().names()
    if len(current) != len(names):
        raise SourceError(
            f"{source.uri}: csv.column_names lists {len(names)} columns, the file has {len(current)}"
        )
    return lazy.rename(dict(zip(current, names, strict=True)))


def _read_csv(path: str, source: SourceSpec, text_columns: set[str]) -> pl.LazyFrame:
    kwargs = _csv_kwargs(source)
    lowered = path.lower()
    if lowered.endswith((".zip", ".gz")):
        if lowered.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise SourceError(f"{path}: a zipped source must hold exactly one file")
                data = archive.read(members[0])
        else:
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        header = pl.read_csv(io.BytesIO(data), **{**kwargs, "n_rows": 1}).columns
        overrides = _text_overrides(header, source, text_columns)
        frame = pl.read_csv(io.BytesIO(data), **kwargs, schema_overrides=overrides or None)
        return _named(frame.lazy(), source)
    options = source.storage_options or None
    header = (
        pl.scan_csv(path, storage_options=options, **{**kwargs, "infer_schema_length": 0})
        .collect_schema()
        .names()
    )
    overrides = _text_overrides(header, source, text_columns)
    return _named(
        pl.scan_csv(path, storage_options=options, **kwargs, schema_overrides=overrides or None),
        source,
    )


def scan_source(
    source: SourceSpec, text_columns: set[str] | frozenset[str] = frozenset()
) -> pl.LazyFrame:
    """A lazy frame over the source; `text_columns` are read as text (CSV only)."""
    path = resolve_uri(source.uri)
    fmt = source.resolved_format
    is_remote = "://" in path
    if not is_remote and not _local_files(path) and not (fmt == "delta" and os.path.isdir(path)):
        raise SourceError(f"{source.uri}: no such file")
    try:
        if fmt == "csv":
            return _read_csv(path, source, set(text_columns))
        if fmt == "parquet":
            return pl.scan_parquet(path, storage_options=source.storage_options or None)
        return pl.scan_delta(path, storage_options=source.storage_options or None)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise SourceError(f"{source.uri}: cannot read as {fmt}: {error}") from error


def collect_source(lazy: pl.LazyFrame, source: SourceSpec) -> pl.DataFrame:
    """Collect a scan, reporting parse failures with the source named."""
    try:
        return lazy.collect()
    except pl.exceptions.PolarsError as error:
        raise SourceError(
            f"{source.uri}: {str(error).splitlines()[0]} "
            "(declare the column's dtype in the spec to read it as text and validate it)"
        ) from error


def read_lookup_table(source: SourceSpec) -> pl.DataFrame:
    """A whole (small) lookup table, cached per process: join sources are read once a run."""
    return _read_lookup_table(source.model_dump_json(), source_fingerprint(source))


@functools.lru_cache(maxsize=16)
def _read_lookup_table(source_json: str, fingerprint: str) -> pl.DataFrame:
    source = SourceSpec.model_validate_json(source_json)
    return collect_source(scan_source(source), source)
