"""What a source file really is, from its first bytes, and what to set when it is not what the spec says.

Before a file is parsed its head is read: magic bytes tell Parquet, gzip, zip
and Delta folders apart from text; a text head is checked for its encoding, its
separator (a header that reads as one column), duplicate header names and
ragged lines. Each mismatch becomes a `SourceError` that names the file, what
it looks like, the rule and the spec option to set.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import Counter
from dataclasses import dataclass

from mlops_assets.errors import PlatformError
from mlops_assets.specs.model import CsvOptions

HEAD_BYTES = 1 << 16
HEAD_LINES = 200
CANDIDATE_SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "'\\t' (tab)", "|": "'|'"}
MAGIC = {
    b"PAR1": "parquet",
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
}
DESCRIPTION = {
    "parquet": "a Parquet file (it starts with the magic bytes PAR1)",
    "gzip": "gzip-compressed data (magic bytes 1f 8b)",
    "zip": "a zip archive (magic bytes PK)",
    "delta": "a Delta table folder (it holds _delta_log/)",
    "empty": "an empty file (0 bytes)",
    "binary": "binary data, not delimited text",
    "text": "delimited text",
    "folder": "a folder without a _delta_log/",
}
FORMAT_OF_KIND = {
    "parquet": "parquet",
    "delta": "delta",
    "text": "csv",
    "gzip": "csv",
    "zip": "csv",
}


class SourceError(PlatformError):
    """A source that cannot be read, with the file named."""


@dataclass(frozen=True)
class FileLook:
    """What a file is, judged from its first bytes."""

    kind: str
    head: bytes = b""

    @property
    def description(self) -> str:
        return DESCRIPTION[self.kind]

    @property
    def format(self) -> str | None:
        """The `source.format` that reads this kind of file."""
        return FORMAT_OF_KIND.get(self.kind)


def kind_of_bytes(head: bytes) -> str:
    """parquet, gzip, zip, empty, binary or text, from a file's first bytes."""
    if not head:
        return "empty"
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    sample = head[:4096]
    if b"\x00" in sample:
        return "binary"
    control = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    return "binary" if control > len(sample) * 0.05 else "text"


def look_at(path: str) -> FileLook:
    """What the local file or folder at `path` is."""
    if os.path.isdir(path):
        kind = "delta" if os.path.isdir(os.path.join(path, "_delta_log")) else "folder"
        return FileLook(kind)
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    return FileLook(kind_of_bytes(head), head)


def text_preview(head: bytes, limit: int = 60) -> str:
    """The first line of a head, clipped, for an error message."""
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    return line if len(line) <= limit else line[:limit] + "..."


def first_invalid_utf8(path: str) -> tuple[int, int, int] | None:
    """(byte offset, line number, byte value) of the first byte that is not UTF-8, or None."""
    start, lines = 0, 0  # byte offset and newlines before `data`
    pending = b""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            data = pending + block
            try:
                data.decode("utf-8")
                pending = b""
            except UnicodeDecodeError as error:
                cut_at_end = error.reason == "unexpected end of data" and error.end == len(data)
                if not cut_at_end:
                    bad = error.start
                    return start + bad, lines + data[:bad].count(b"\n") + 1, data[bad]
                pending = data[error.start :]
                data = data[: error.start]
            start += len(data)
            lines += data.count(b"\n")
    if pending:
        return start, lines + 1, pending[0]
    return None


def encoding_error(uri: str, offset: int, line: int, byte: int) -> SourceError:
    return SourceError(
        f"{uri}: byte 0x{byte:02X} at offset {offset} (line {line}) is not valid UTF-8; the file "
        "looks Latin-1 or Windows-1252 encoded: set source.csv.encoding: latin1 (or cp1252; "
        "utf8-lossy replaces bad bytes) (rule: source.csv.encoding)"
    )


def _head_text(uri: str, head: bytes, csv_options: CsvOptions, complete: bool) -> str:
    if csv_options.encoding in ("latin1", "cp1252"):
        return head.decode(csv_options.encoding, errors="replace")
    if csv_options.encoding == "utf8-lossy":
        return head.decode("utf-8", errors="replace")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError as error:
        before = head[: error.start]
        raise encoding_error(uri, error.start, before.count(b"\n") + 1, head[error.start]) from None


def _records(text: str, separator: str, quote_char: str | None) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each record in `text`, the last (maybe cut) one left out."""
    reader = csv.reader(
        io.StringIO(text),
        delimiter=separator,
        quotechar=quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if quote_char else csv.QUOTE_NONE,
        strict=False,
    )
    records = []
    try:
        for fields in reader:
            records.append((reader.line_num, fields))
            if len(records) > HEAD_LINES:
                break
    except csv.Error:
        pass
    return records[:-1] if len(records) > 1 else records


def _separator_hint(lines: list[str], current: str) -> str | None:
    """A separator that splits the head's lines into the same number (>1) of fields."""
    best = None
    for candidate in CANDIDATE_SEPARATORS:
        if candidate == current:
            continue
        counts = {line.count(candidate) for line in lines if line.strip()}
        if len(counts) == 1 and min(counts) >= 1 and (best is None or min(counts) > best[1]):
            best = (candidate, min(counts))
    return best[0] if best else None


def check_csv_head(uri: str, head: bytes, csv_options: CsvOptions, complete: bool) -> None:
    """Raise a SourceError when the head of a CSV is not what `csv_options` says it is."""
    text = _head_text(uri, head, csv_options, complete)
    lines = text.splitlines()[csv_options.skip_rows :]
    if not complete:
        lines = lines[:-1]
    if not any(line.strip() for line in lines):
        if complete:
            raise SourceError(f"{uri}: the file holds no rows (rule: source.not_empty)")
        return
    body = "\n".join(lines[: HEAD_LINES + 1]) + "\n"
    records = _records(body, csv_options.separator, csv_options.quote_char)
    if not records:
        return
    header = records[0][1]
    sample = [line for line in lines[:HEAD_LINES] if line.strip()]
    if len(header) == 1:
        hint = _separator_hint(sample, csv_options.separator)
        if hint:
            raise SourceError(
                f"{uri}: the {'header' if csv_options.has_header else 'first line'} reads as one "
                f"column (`{text_preview(header[0].encode())}`) with separator "
                f"{SEPARATOR_NAMES.get(csv_options.separator, repr(csv_options.separator))}; the "
                f"file looks {SEPARATOR_NAMES[hint]}-separated: set source.csv.separator: "
                f"{hint!r} (rule: source.csv.separator)"
            )
    if csv_options.has_header:
        counts = Counter(name for name in header)
        twice = [name for name, n in counts.items() if n > 1]
        if twice:
            positions = "; ".join(
                f"`{name}` in fields {', '.join(str(i + 1) for i, h in enumerate(header) if h == name)}"
                for name in twice
            )
            raise SourceError(
                f"{uri}: the header names a column more than once ({positions}): "
                "rename them in the file (rule: source.csv.unique_header)"
            )
    width = len(header)
    for line_number, fields in records[1:]:
        if len(fields) != width and any(field.strip() for field in fields):
            raise ragged_line_error(
                uri, line_number + csv_options.skip_rows, len(fields), width, csv_options
            )


def ragged_line_error(
    uri: str, line: int, fields: int, width: int, csv_options: CsvOptions
) -> SourceError:
    what = "header" if csv_options.has_header else "first row"
    hint = (
        "; the first line may be a title or notes: set source.csv.skip_rows to skip it"
        if width == 1 and fields > 1
        else ""
    )
    return SourceError(
        f"{uri}: line {line} has {fields} fields, the {what} has {width} (rule: "
        f"source.csv.field_count); quote values that contain the separator "
        f"{SEPARATOR_NAMES.get(csv_options.separator, repr(csv_options.separator))} or fix the line"
        f"{hint}"
    )


def first_ragged_line(text_stream: io.TextIOBase, csv_options: CsvOptions) -> tuple[int, int, int]:
    """(line, fields, header fields) of the first record whose width differs from the first one."""
    for _ in range(csv_options.skip_rows):
        text_stream.readline()
    reader = csv.reader(
        text_stream,
        delimiter=csv_options.separator,
        quotechar=csv_options.quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if csv_options.quote_char else csv.QUOTE_NONE,
        strict=False,
    )
    width = None
    for fields in reader:
        if width is None:
            width = len(fields)
        elif len(fields) > width:
            return reader.line_num + csv_options.skip_rows, len(fields), width
    return 0, 0, width or 0


__all__ = [
    "FileLook",
    "SourceError",
    "check_csv_head",
    "encoding_error",
    "first_invalid_utf8",
    "first_ragged_line",
    "kind_of_bytes",
    "look_at",
    "ragged_line_error",
    "text_preview",
]
