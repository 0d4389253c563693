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

from mlops_assets.ingest.sniff import (
    DESCRIPTION,
    HEAD_BYTES,
    SourceError,
    check_csv_head,
    encoding_error,
    first_invalid_utf8,
    first_ragged_line,
    kind_of_bytes,
    look_at,
    ragged_line_error,
    text_preview,
)
from mlops_assets.specs.model import SourceSpec

PACKAGE_SCHEME = "package://"


def resolve_uri(uri: str) -> str:
    """Turn `package://pkg/relative/path` into a file path; other URIs pass through."""
    if not uri.startswith(PACKAGE_SCHEME):
        return os.path.expanduser(uri)
    package, _, relative = uri[len(PACKAGE_SCHEME) :].partition("/")
    return str(_package_folder(package, uri) / relative)


@functools.lru_cache(maxsize=64)
def _package_folder(package: str, uri: str) -> Path:
    """Where an installed package lives: found once per process (the online path resolves the
    lookup tables' URIs on every request)."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise SourceError(f"{uri}: package `{package}` is not installed")
    return Path(next(iter(found.submodule_search_locations)))


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
        # latin1 and cp1252 sources are decoded to UTF-8 before polars reads them.
        "encoding": "utf8-lossy" if csv.encoding == "utf8-lossy" else "utf8",
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


def _label(source: SourceSpec, path: str, files: list[str]) -> str:
    """How an error names a file: the spec's URI for one file, the file itself within a glob."""
    return source.uri if len(files) <= 1 else path


def _decompressed(path: str, kind: str) -> bytes:
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise SourceError(f"{path}: a zipped source must hold exactly one file")
            return archive.read(members[0])
    with gzip.open(path, "rb") as handle:
        return handle.read()


def _csv_bytes(path: str, source: SourceSpec, label: str) -> bytes | None:
    """The file's text as UTF-8 bytes when it must be decompressed or re-encoded, else None."""
    kind = look_at(path).kind
    data = _decompressed(path, kind) if kind in ("gzip", "zip") else None
    if data is not None:
        look = kind_of_bytes(data[:HEAD_BYTES])
        if look != "text":
            raise SourceError(
                f"{label}: the compressed file holds {DESCRIPTION[look]}, not delimited text "
                "(rule: source.format)"
            )
        check_csv_head(label, data[:HEAD_BYTES], source.csv, len(data) <= HEAD_BYTES)
    if source.csv.encoding in ("latin1", "cp1252"):
        raw = data if data is not None else Path(path).read_bytes()
        return raw.decode(source.csv.encoding, errors="replace").encode()
    if data is not None and source.csv.encoding == "utf8":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise encoding_error(label, error.start, line, data[error.start]) from None
    return data


def _read_csv(
    path: str, files: list[str], source: SourceSpec, text_columns: set[str]
) -> pl.LazyFrame:
    kwargs = _csv_kwargs(source)
    in_memory = [_csv_bytes(f, source, _label(source, f, files)) for f in files]
    if any(data is not None for data in in_memory):
        frames = []
        for name, data in zip(files, in_memory, strict=True):
            buffer = io.BytesIO(data if data is not None else Path(name).read_bytes())
            header = pl.read_csv(buffer, **{**kwargs, "n_rows": 1}).columns
            overrides = _text_overrides(header, source, text_columns)
            buffer.seek(0)
            frames.append(pl.read_csv(buffer, **kwargs, schema_overrides=overrides or None))
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
        return _named(frame.lazy(), source)
    return _scan_csv(path, source, text_columns)


def _checked_format(source: SourceSpec, path: str, files: list[str]) -> str:
    """The format to read local files with, after a look at their bytes; raises on a mismatch."""
    fmt = source.resolved_format
    if fmt == "delta" or not files:
        look = look_at(path) if os.path.exists(path) else None
        if look is not None and look.kind != "delta":
            hint = f"; set source.format: {look.format}" if look.format else ""
            raise SourceError(
                f"{source.uri}: not a Delta table: it is {look.description}{hint} (rule: source.format)"
            )
        return fmt
    explicit = source.format is not None
    for name in files:
        label = _label(source, name, files)
        look = look_at(name)
        if look.kind == "empty":
            raise SourceError(f"{label}: the file is empty (0 bytes) (rule: source.not_empty)")
        if look.kind == "binary":
            raise SourceError(
                f"{label}: the file is {look.description} (first bytes "
                f"{look.head[:8].hex(' ')}) (rule: source.format)"
            )
        if fmt == "csv" and look.kind == "parquet":
            if not explicit:
                fmt = "parquet"  # a Parquet file published under a .csv name: its bytes win
                continue
            raise SourceError(
                f"{label}: the spec reads it as CSV (source.format: csv), but it is "
                f"{look.description}: set source.format: parquet (rule: source.format)"
            )
        if fmt == "parquet" and look.kind != "parquet":
            preview = f": `{text_preview(look.head)}`" if look.kind == "text" else ""
            hint = f"; set source.format: {look.format}" if look.format else ""
            raise SourceError(
                f"{label}: not a Parquet file (no PAR1 magic bytes); it is "
                f"{look.description}{preview}{hint} (rule: source.format)"
            )
        if fmt == "csv" and look.kind == "text":
            size = os.path.getsize(name)
            check_csv_head(label, look.head, source.csv, size <= HEAD_BYTES)
    return fmt


def scan_source(
    source: SourceSpec, text_columns: set[str] | frozenset[str] = frozenset()
) -> pl.LazyFrame:
    """A lazy frame over the source; `text_columns` are read as text (CSV only).

    Local files are looked at first (see `mlops_assets.ingest.sniff`): a file that is not
    what the spec says, or that the spec's CSV options cannot read, is reported with what
    it looks like and the option to set.
    """
    path = resolve_uri(source.uri)
    fmt = source.resolved_format
    is_remote = "://" in path
    files = _local_files(path)
    if not is_remote and not files and not (fmt == "delta" and os.path.isdir(path)):
        if os.path.isdir(path):
            look = look_at(path)
            hint = f"; set source.format: {look.format}" if look.format else ""
            raise SourceError(
                f"{source.uri}: a folder, not a {fmt} file: it is {look.description}{hint} "
                "(rule: source.format)"
            )
        raise SourceError(f"{source.uri}: no such file")
    if not is_remote:
        fmt = _checked_format(source, path, files)
    try:
        if fmt == "csv":
            if is_remote:
                return _scan_csv(path, source, set(text_columns))
            return _read_csv(path, files, source, set(text_columns))
        if fmt == "parquet":
            return pl.scan_parquet(path, storage_options=source.storage_options or None)
        return pl.scan_delta(path, storage_options=source.storage_options or None)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise _explained(error, source) from error


def _scan_csv(path: str, source: SourceSpec, text_columns: set[str]) -> pl.LazyFrame:
    """A lazy CSV scan (local or remote), declared columns as text."""
    kwargs = _csv_kwargs(source)
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


class TypeInferenceError(SourceError):
    """A value that does not fit the type inferred from the first rows (retried over all rows)."""


def _text_stream(path: str, source: SourceSpec) -> io.TextIOBase:
    """The file as text in the spec's encoding, decompressed when its bytes say so."""
    encoding = "utf-8" if source.csv.encoding.startswith("utf8") else source.csv.encoding
    kind = look_at(path).kind
    if kind in ("gzip", "zip"):
        return io.StringIO(_decompressed(path, kind).decode(encoding, errors="replace"))
    return open(path, encoding=encoding, errors="replace", newline="")


def _explained(error: Exception, source: SourceSpec) -> SourceError:
    """A polars read error turned into the platform's message: file, line or column, and rule."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    path = resolve_uri(source.uri)
    files = [] if "://" in path else _local_files(path)
    if "invalid utf-8" in first.lower() and source.csv.encoding == "utf8":
        for name in files:
            found = first_invalid_utf8(name)
            if found:
                return encoding_error(_label(source, name, files), *found)
    if "more fields than defined" in first:
        for name in files:
            with _text_stream(name, source) as stream:
                line, fields, width = first_ragged_line(stream, source.csv)
            if line:
                return ragged_line_error(
                    _label(source, name, files), line, fields, width, source.csv
                )
    if first.startswith("could not parse"):
        return TypeInferenceError(
            f"{source.uri}: {first} (rule: source.type_inference; declare the column's dtype in "
            "`columns:` to read it as text and validate it)"
        )
    if isinstance(error, pl.exceptions.NoDataError):
        return SourceError(f"{source.uri}: the file holds no data (rule: source.not_empty)")
    return SourceError(f"{source.uri}: cannot read as {source.resolved_format}: {first}")


def collect_source(lazy: pl.LazyFrame, source: SourceSpec) -> pl.DataFrame:
    """Collect a scan, reporting parse failures with the source named."""
    try:
        return lazy.collect()
    except pl.exceptions.PolarsError as error:
        raise _explained(error, source) from error


def collect_all_source(lazies: list[pl.LazyFrame], source: SourceSpec) -> list[pl.DataFrame]:
    """Collect several scans of one source in one pass over it."""
    try:
        return pl.collect_all(lazies)
    except pl.exceptions.PolarsError as error:
        raise _explained(error, source) from error


def read_lookup_table(source: SourceSpec) -> pl.DataFrame:
    """A whole (small) lookup table, cached per process: join sources are read once a run."""
    return _read_lookup_table(source.model_dump_json(), source_fingerprint(source))


@functools.lru_cache(maxsize=16)
def _read_lookup_table(source_json: str, fingerprint: str) -> pl.DataFrame:
    source = SourceSpec.model_validate_json(source_json)
    return collect_source(scan_source(source), source)
