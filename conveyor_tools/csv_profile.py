"""What each column of a CSV file holds, read once as a stream: the facts ``conveyor schema infer`` decides from.

A file is a header naming its columns, then rows of as many cells. The rows are read CHUNK_ROWS
at a time and column by column, each distinct cell looked at once (readings repeat), so memory
does not grow with the file's size (a million rows of the default schema's seven columns take about
2.5 s). Blank rows are
skipped, as an upload skips them. The label's cells must be whole numbers, as the schema's label
check reads them (``1``, ``1.0``); each other column's profile says what a feature or a metadata
field would make of its cells, by the schema's own rules.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.schema import FeatureSchema, LabelSpec, MetadataSpec, Rejection

if TYPE_CHECKING:
    from _csv import Reader

# Rows taken in together, column by column
CHUNK_ROWS = 16_384

# One metadata field of each type, named after it: a cell is checked by the very rule an upload applies
_PROBE = FeatureSchema(
    name="probe",
    label=LabelSpec(name="label", values=[0]),
    features=[],
    metadata=[MetadataSpec(name="string"), MetadataSpec(name="event_time", type="event_time")],
)


class ProfileError(Exception):
    """The file is no table of named columns with a label of whole numbers: the message says where and what."""


@dataclass
class ColumnProfile:
    """What one column's cells held: the range and kind of its numbers, and what its text could be kept as.

    ``missing`` counts the cells a feature could not take (empty, or not finite); ``integer`` is
    whether every number is written as a whole one (``12``, not ``12.0``).
    """

    name: str
    at: int
    low: float = math.inf
    high: float = -math.inf
    integer: bool = True
    numbers: bool = False
    missing: int = 0
    text: tuple[int, str] | None = None
    """The first cell that is not a number, and its line."""
    timed: bool = False
    untimed: bool = False
    line_break: int | None = None

    @property
    def numeric(self) -> bool:
        """Whether a feature could take the column: no text in it, and a finite number at least."""
        return self.text is None and self.low <= self.high

    @property
    def times(self) -> bool:
        """Whether every cell is an ISO 8601 time or empty, and one at least a time."""
        return not self.numbers and self.timed and not self.untimed

    def see(self, cells: Sequence[str], lines: Sequence[int]) -> list[int]:
        """Take in the column's cells of some rows; the positions of those a feature could not take.

        Each distinct cell is looked at once (readings repeat), in the order of the rows; only the
        first text and the first line break need their line.
        """
        line_of = partial(_line_of, cells, lines)
        refused = {cell for cell in dict.fromkeys(cells) if self._refuses(cell, line_of)}
        positions = [position for position, cell in enumerate(cells) if cell in refused] if refused else []
        self.missing += len(positions)
        return positions

    def _refuses(self, cell: str, line_of: Callable[[str], int]) -> bool:
        """Take one distinct cell in; True if a feature could not take it (empty, or not finite)."""
        if not cell.strip():
            return True
        try:
            number = float(cell)
        except ValueError:
            self._see_text(cell, line_of)
            return False
        self.numbers = True
        if not math.isfinite(number):
            return True
        self.low = min(self.low, number)
        self.high = max(self.high, number)
        if self.integer:
            self.integer = _written_whole(cell)
        return False

    def _see_text(self, cell: str, line_of: Callable[[str], int]) -> None:
        if self.text is None:
            self.text = (line_of(cell), cell)
        if self.line_break is None and not _keeps("string", cell):
            self.line_break = line_of(cell)
        if not self.untimed:
            if _keeps("event_time", cell):
                self.timed = True
            else:
                self.untimed = True


@dataclass
class FileProfile:
    """A file read so far: its header, each column but the label, the label's values and the rows missing a value."""

    source: Path
    label: str
    header: list[str]
    columns: list[ColumnProfile]
    rows: int = 0
    labels: Counter[int] = field(default_factory=Counter)
    missing: Counter[frozenset[str]] = field(default_factory=Counter)
    """Rows with an empty or non-finite cell, by the names of the columns that hold one."""

    def take(self, rows: list[list[str]], lines: list[int]) -> None:
        """Take in rows (of the header's width) and their lines, column by column."""
        if not rows:
            return
        cells = list(zip(*rows, strict=True))
        labels = cells[self.header.index(self.label)]
        for cell, count in Counter(labels).items():
            value = _label_value(cell)
            if value is None:
                raise ProfileError(
                    f"{self.source}: line {_line_of(labels, lines, cell)}, column {self.label}: {cell!r} is not "
                    "a whole number; the label holds classes"
                )
            self.labels[value] += count
        missing: dict[int, list[str]] = {}
        for column in self.columns:
            for position in column.see(cells[column.at], lines):
                missing.setdefault(position, []).append(column.name)
        self.missing.update(map(frozenset, missing.values()))
        self.rows += len(rows)

    def rows_missing(self, names: Collection[str]) -> int:
        """How many rows have an empty or non-finite cell in one of these columns."""
        return sum(count for columns, count in self.missing.items() if not columns.isdisjoint(names))


def profile(source: Path, label: str) -> FileProfile:
    """Read the CSV file ``source``, whose column ``label`` is the label; a ProfileError at the first problem."""
    try:
        with source.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, strict=True)
            try:
                return _read(source, label, reader)
            except csv.Error as error:
                raise ProfileError(f"{source}: line {reader.line_num}: not valid CSV: {error}") from error
    except OSError as error:
        raise ProfileError(f"{source}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ProfileError(f"{source}: not UTF-8 text ({error.reason})") from error


def _read(source: Path, label: str, reader: Reader) -> FileProfile:
    """Every row, CHUNK_ROWS at a time; the first problem that leaves no schema stops the read."""
    header = _header(source, next(reader, None))
    if label not in header:
        raise ProfileError(f"{source}: no column named {label!r} for the label (the header names {', '.join(header)})")
    at = header.index(label)
    columns = [ColumnProfile(name, index) for index, name in enumerate(header) if index != at]
    table = FileProfile(source, label, header, columns)
    rows: list[list[str]] = []
    lines: list[int] = []
    for cells in reader:
        if not "".join(cells).strip():
            continue  # a blank row, as an upload skips it
        if len(cells) != len(header):
            line = reader.line_num
            raise ProfileError(f"{source}: line {line}: {len(cells)} cells, but the header names {len(header)} columns")
        rows.append(cells)
        lines.append(reader.line_num)
        if len(rows) == CHUNK_ROWS:
            table.take(rows, lines)
            rows, lines = [], []
    table.take(rows, lines)
    return table


def _header(source: Path, cells: list[str] | None) -> list[str]:
    names = [cell.strip() for cell in cells or []]
    if not any(names):
        raise ProfileError(f"{source}: no header: line 1 must name the columns")
    if all(map(_is_number, names)):
        raise ProfileError(f"{source}: no header: line 1 ({','.join(names)[:200]}) is numbers; put the names first")
    for index, name in enumerate(names):
        if not name:
            raise ProfileError(f"{source}: line 1: column {index + 1} of the header has no name")
        if name in names[:index]:
            raise ProfileError(f"{source}: line 1: the header names {name!r} twice")
    return names


def _label_value(cell: str) -> int | None:
    """A label cell as its class: a whole number, as the schema's label check reads it (``1``, ``1.0``); else None."""
    try:
        number = float(cell)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _line_of(cells: Sequence[str], lines: Sequence[int], cell: str) -> int:
    """The line of the first row whose cell this is."""
    return lines[cells.index(cell)]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _written_whole(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


def _keeps(metadata_type: str, cell: str) -> bool:
    """Whether a metadata field of this type keeps the cell as it is, by the schema's rule."""
    return not isinstance(_PROBE.parse_metadata({metadata_type: cell}), Rejection)
