"""Checking an upload as it streams past, in two passes that each hold one piece of it at a time.

Both passes read a file's content: the bytes of gzip decompressed (:mod:`gzip_stream`), any
other file's bytes as they are. The first (:func:`fingerprint`) hashes the content and decodes
it: a file that is not UTF-8, or is nothing but white space, is refused before a row is read, as
when the whole file was decoded first, and so is one that is not valid gzip, named ``.gz`` but not
gzip, or larger decompressed than its limit (read no further than the limit). The second
(:func:`text_lines`, :func:`check_rows`) reads the rows and hands each one, checked, to a
:class:`RowSink`: the good rows as the lines ``csv_row`` writes, in file order (with their
metadata lines when the schema has metadata fields), and the bad rows as they came. What stays
behind is counts, the newest event time, and the first reasons.

A file's rows are the schema's columns, then metadata columns (:class:`~conveyor.schema.CsvColumns`):
after a header, those it names; without one (``incoming/stream/``), every one in schema order.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice, repeat, tee
from typing import Any, Protocol, cast

from gzip_stream import GzipError, opened

from conveyor.schema import CheckedRows, CsvColumns, FeatureSchema, Rejection, csv_row, metadata_row, newest_event_time

# Rows read and checked column by column at a time; a chunk with a bad row is checked again row by row.
CHUNK_ROWS = 16_384
MAX_REPORTED_ERRORS = 1000
# No row of a schema's numbers comes near it; a line this long is not read whole (it would be held whole).
MAX_LINE_CHARS = 1 << 20


class RowSink(Protocol):
    """Where checked rows go: good ones as CSV lines (``csv_row``), bad ones as their cells joined with commas.

    ``metadata`` has each good row's metadata line (``metadata_row``), or is None when the schema has no metadata.
    """

    def good_rows(self, lines: list[str], metadata: list[str] | None) -> None: ...

    def bad_rows(self, lines: list[str]) -> None: ...


class Discard:
    """A sink that keeps nothing: a check for its verdict alone."""

    def good_rows(self, lines: list[str], metadata: list[str] | None) -> None:
        pass

    def bad_rows(self, lines: list[str]) -> None:
        pass


@dataclass
class FileCheck:
    """The verdict on one file: its rows counted, the newest event time of its good rows, and what was
    wrong (the first MAX_REPORTED_ERRORS reasons)."""

    rows_in: int = 0
    rows_good: int = 0
    rows_bad: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    fatal: Rejection | None = None
    newest_event_at: datetime | None = None

    def reject(self, reason: Rejection) -> None:
        self.rows_bad += 1
        if len(self.rejections) < MAX_REPORTED_ERRORS:
            self.rejections.append(reason)

    def saw_event_times(self, event_times: Sequence[str]) -> None:
        """Keep the newest of the good rows' event times (normalised; empty for none)."""
        newest = newest_event_time(event_times)
        if newest is not None and (self.newest_event_at is None or newest > self.newest_event_at):
            self.newest_event_at = newest


class LineTooLongError(Exception):
    """A line runs past MAX_LINE_CHARS characters (``line`` is its 1-based number)."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is longer than {MAX_LINE_CHARS} characters")
        self.line = line


def fingerprint(chunks: Iterable[bytes], *, name: str = "", max_bytes: int | None = None) -> str | Rejection:
    """The first pass: the SHA-256 (hex) of a file's content, or why it holds no text to read.

    Gzip's content is refused where it is not valid gzip or passes ``max_bytes`` decompressed (a
    file that is not gzip was held to the limit by its size); a file whose ``name`` ends in ``.gz``
    must be gzip. A file that is not UTF-8 is refused with the 1-based line of the
    bad bytes and their repr (with the 8 bytes after them), wherever they are; one of white space
    alone is empty.
    """
    gzipped, content = opened(chunks)
    if name.endswith(".gz") and not gzipped:
        return Rejection(rule="gzip", message="file is named .gz but is not gzip (it does not start with bytes 1f 8b)")
    try:
        return _fingerprint(content, max_bytes=max_bytes if gzipped else None)
    except GzipError as error:
        return Rejection(rule="gzip", message=f"file is not valid gzip: {error}")


def _fingerprint(content: Iterable[bytes], *, max_bytes: int | None) -> str | Rejection:
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    blank = True
    newlines = 0
    size = 0
    pending = iter(content)
    for chunk in chain(pending, [None]):
        size += len(chunk or b"")
        if max_bytes is not None and size > max_bytes:
            return Rejection(rule="too-large", message=f"file exceeds {max_bytes} bytes once decompressed")
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as error:
            return _not_utf8(error, newlines, pending)
        if chunk is not None:
            digest.update(chunk)
            newlines += chunk.count(b"\n")
        blank = blank and (not text or text.isspace())
    if blank:
        return Rejection(rule="empty-file", message="file is empty")
    return digest.hexdigest()


def _not_utf8(error: UnicodeDecodeError, newlines_before: int, rest: Iterator[bytes]) -> Rejection:
    """The encoding error of ``error``, raised on bytes that follow ``newlines_before`` newlines.

    The bytes the decoder failed on are those it held back (part of a character, never a newline)
    and the chunk it was given; the chunks after it give the 8 bytes shown after the bad ones.
    """
    seen = error.object
    line = newlines_before + seen[: error.start].count(b"\n") + 1
    shown = seen[error.start : error.end + 8]
    for chunk in rest:
        if len(shown) >= error.end + 8 - error.start:
            break
        shown = (shown + chunk)[: error.end + 8 - error.start]
    return Rejection(rule="encoding", message="file is not UTF-8", line=line, value=repr(shown))


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a file's content (gzip decompressed), UTF-8 with any byte order mark dropped, each
    with its end: the lines csv.reader reads from a file opened with ``newline=""`` (ended by
    ``\\n``, ``\\r\\n`` or ``\\r``); so a line's number is its number in the decompressed file.

    Raises LineTooLongError at a line longer than MAX_LINE_CHARS (and GzipError at gzip the first
    pass would have refused).
    """
    return chain.from_iterable(_line_batches(opened(chunks)[1]))


def _line_batches(chunks: Iterable[bytes]) -> Iterator[list[str]]:
    """The lines of each chunk that end in it (a line cut by a chunk's end goes with the next)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    number = 0
    for chunk in chain(chunks, [None]):
        text = rest + decoder.decode(chunk or b"", final=chunk is None)
        lines = io.StringIO(text, newline="").readlines()
        # The last line may go on in the next chunk; one ending in "\r" may be a "\r\n" cut in two
        rest = lines.pop() if chunk is not None and lines and not lines[-1].endswith("\n") else ""
        if max(map(len, lines), default=0) > MAX_LINE_CHARS or len(rest) > MAX_LINE_CHARS:
            too_long = next((n for n, line in enumerate(lines) if len(line) > MAX_LINE_CHARS), len(lines))
            raise LineTooLongError(number + too_long + 1)
        number += len(lines)
        yield lines


def check_rows(
    schema: FeatureSchema, lines: Iterable[str], *, has_header: bool, max_rows: int, rows: RowSink
) -> FileCheck:
    """Validate a CSV file's lines against the schema: every row to ``rows``, every reason with its 1-based line.

    Rows are read in chunks and checked column by column (``FeatureSchema.parse_rows``). A chunk
    that is not all good data rows (a bad or blank row, the header, the row limit, a CSV error) is
    read again and checked row by row, which gives each reason its line.
    """
    check = FileCheck()
    # Without a header a row has every metadata column; with one, those it names (known once it is read)
    columns = schema.csv_columns()
    try:
        for chunk in _chunks(iter(lines)):
            known = None if chunk.rows is None else columns.parse_rows(chunk.rows)
            may_hold_header = has_header and chunk.lines_before == 0
            if known is None or None in known.lines or may_hold_header or check.rows_in + len(known.lines) > max_rows:
                columns = _check_text(columns, chunk, known, check, rows, has_header=has_header, max_rows=max_rows)
                if check.fatal is not None:
                    break
            else:
                check.rows_in += len(known.lines)
                check.rows_good += len(known.lines)
                if known.event_times is not None:
                    check.saw_event_times(known.event_times)
                # None is in neither
                rows.good_rows(cast(list[str], known.lines), cast(list[str] | None, known.metadata))
    except LineTooLongError as error:
        check.fatal = Rejection(rule="csv", message=f"file is not valid CSV: {error}", line=error.line)
    if check.fatal is None and check.rows_in == 0:
        check.fatal = Rejection(rule="empty-file", message="file has no data rows", line=1 if has_header else None)
    return check


def check_file(
    schema: FeatureSchema, body: bytes, *, has_header: bool, max_rows: int, rows: RowSink | None = None
) -> FileCheck:
    """Both passes over a file held whole (tests and benchmarks): its verdict, its rows to ``rows``."""
    content = fingerprint([body])
    if isinstance(content, Rejection):
        return FileCheck(fatal=content)
    sink = Discard() if rows is None else rows
    return check_rows(schema, text_lines([body]), has_header=has_header, max_rows=max_rows, rows=sink)


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Rows read together, their lines, and the number of lines before them; no rows at a CSV error."""

    lines: list[str]
    lines_before: int
    rows: list[list[str]] | None


def _chunks(lines: Iterator[str]) -> Iterator[_Chunk]:
    """A file's rows: the first alone (it may be the header), then CHUNK_ROWS at a time, up to any CSV error."""
    read, kept = tee(lines)
    reader = csv.reader(read, strict=True)
    for size in chain([1], repeat(CHUNK_ROWS)):
        # csv.reader reads no further than the rows it returns: the lines it read since the last chunk hold them
        lines_before = reader.line_num
        rows: list[list[str]] | None
        try:
            rows = list(islice(reader, size))
        except csv.Error:
            rows = None
        taken = list(islice(kept, reader.line_num - lines_before))
        if rows == []:
            return
        yield _Chunk(taken, lines_before, rows)
        if rows is None:
            return


@dataclass(slots=True)
class _Good:
    """The good rows of a chunk: their lines, and their metadata lines and event times when the schema has metadata."""

    lines: list[str] = field(default_factory=list)
    metadata: list[str] | None = None
    event_times: list[str] = field(default_factory=list)

    def add(self, line: str, metadata: str | None, event_time: str) -> None:
        self.lines.append(line)
        if self.metadata is not None and metadata is not None:
            self.metadata.append(metadata)
            self.event_times.append(event_time)


def _check_text(
    columns: CsvColumns,
    chunk: _Chunk,
    known: CheckedRows | None,
    check: FileCheck,
    rows: RowSink,
    *,
    has_header: bool,
    max_rows: int,
) -> CsvColumns:
    """Read a chunk again and check its rows one by one; ``known`` has the lines of the rows found good.

    The columns the rest of the file has: those a header names, if the chunk holds it.
    """
    reader = csv.reader(iter(chunk.lines), strict=True)
    good = _Good(metadata=[] if columns.schema.metadata else None)
    bad: list[str] = []
    try:
        columns = _check_rows(
            columns,
            reader,
            known,
            check,
            good=good,
            bad=bad,
            lines_before=chunk.lines_before,
            has_header=has_header,
            max_rows=max_rows,
        )
    except csv.Error as error:
        line = chunk.lines_before + reader.line_num
        check.fatal = Rejection(rule="csv", message=f"file is not valid CSV: {error}", line=line)
    if good.lines:
        check.saw_event_times(good.event_times)
        rows.good_rows(good.lines, good.metadata)
    if bad:
        rows.bad_rows(bad)
    return columns


def _check_rows(
    columns: CsvColumns,
    reader: Any,
    known: CheckedRows | None,
    check: FileCheck,
    *,
    good: _Good,
    bad: list[str],
    lines_before: int,
    has_header: bool,
    max_rows: int,
) -> CsvColumns:
    # A chunk that ends in a CSV error has no rows read, so none known good
    known_rows = repeat((None, None, "")) if known is None else _known_rows(known)
    for cells, (known_line, known_metadata, known_event_time) in zip(reader, known_rows, strict=False):
        line = lines_before + reader.line_num
        if known_line is None and (not cells or all(not cell.strip() for cell in cells)):
            continue
        if has_header and line == 1:
            # The header is the first chunk's one row: the rows after it are read with the columns it names
            read = columns.schema.read_header([cell.strip() for cell in cells])
            if isinstance(read, Rejection):
                check.fatal = read
                return columns
            columns = read
            continue
        check.rows_in += 1
        if check.rows_in > max_rows:
            check.fatal = Rejection(rule="too-many-rows", message=f"file has more than {max_rows} rows", line=line)
            return columns
        if known_line is not None:
            check.rows_good += 1
            good.add(known_line, known_metadata, known_event_time)
            continue
        parsed = columns.parse_row(cells, line)
        if isinstance(parsed, Rejection):
            check.reject(parsed)
            bad.append(",".join(cells))
        else:
            check.rows_good += 1
            at = columns.schema.event_time_index
            good.add(csv_row(parsed.values), metadata_row(parsed.metadata), "" if at is None else parsed.metadata[at])
    return columns


def _known_rows(known: CheckedRows) -> Any:
    """Each row's line, metadata line and event time as ``parse_rows`` found them (None, None, "" when not known)."""
    if known.metadata is None or known.event_times is None:
        return zip(known.lines, repeat(None), repeat(""))
    return zip(known.lines, known.metadata, known.event_times, strict=True)
