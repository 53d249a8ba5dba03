"""The feature schema: one definition of the label and features that every validator uses.

Schemas are JSON documents in ``conveyor/schemas/``; the stack's ``FeatureSchema`` parameter
names the one in force. Validation returns the row's values, or a :class:`Rejection` that says
which line, column, value and rule failed.

A JSON record may carry fields the schema does not name (a device id, a timestamp): the schema's
``unknown_fields`` says what happens to them. ``"ignore"`` (the default) drops them, whatever
their values, and the caller counts them (``unknown_field_names`` names them); ``"reject"`` rejects
the record with rule ``unknown-field``, naming the first such field. A CSV row has no names, so
this applies to JSON records only.

A schema may also name metadata fields (``metadata``: a device id, an event time): values kept
beside a row, never features. A JSON record may leave one out (its value is then empty); a
``string`` field takes any JSON scalar (a string as it is, a number or boolean as its JSON text,
null as empty) and rejects an object or array (rule ``metadata``); an ``event_time`` is an ISO 8601
time (a naive one is UTC) or epoch seconds, normalised to ISO 8601 UTC with a ``Z``, and anything
else is rejected (rule ``event-time``). A CSV file's rows are the schema's columns, then the
metadata columns it has (:class:`CsvColumns`): every one in schema order without a header, any of
them in any order after a header that names them. Metadata fields are never unknown fields.

Each column's check is bound once per schema (``_Column``), and one check serves every path: a
JSON record, a CSV row, and a batch of CSV rows checked column by column (``parse_rows``). A JSON
record of plain values is first tried by ``_PlainRecords``, which accepts only what the checks
accept, a few times faster (the Firehose transform's 6 MB batch is most of its time here).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property, partial
from importlib import resources
from itertools import chain, compress, filterfalse
from operator import contains, itemgetter, le
from typing import Any, Literal, NamedTuple, Self, cast

from pydantic import BaseModel, ConfigDict, model_validator

from conveyor.errors import ConfigurationError

Value = int | float
Problem = tuple[str, str]
"""The ``(rule, message)`` a cell breaks."""


class Rejection(BaseModel):
    """Why a record, row or file was set aside. ``rule`` is a stable code; ``message`` is for people."""

    model_config = ConfigDict(frozen=True)

    rule: str
    message: str
    line: int | None = None
    column: str | None = None
    value: str | None = None


class FeatureSpec(BaseModel):
    name: str
    type: Literal["number", "integer"] = "number"
    min: float | None = None
    max: float | None = None


class LabelSpec(BaseModel):
    name: str
    values: list[int]


class MetadataSpec(BaseModel):
    """A value kept beside each row, never a feature: text, or the time the row's event happened."""

    name: str
    type: Literal["string", "event_time"] = "string"


class Layout(BaseModel):
    """The columns a part was written in, or a model was trained on: label first, then the features.

    ``metadata`` names the values kept beside each row (a part's metadata sidecars hold them in
    this order). ``schema_name`` and ``version`` name the schema it came from
    (``FeatureSchema.version``). Two layouts with the same label, feature and metadata names hold
    the same data in the same place, whatever else their schemas say (a bound, a description):
    :meth:`same_columns`.
    """

    model_config = ConfigDict(frozen=True)

    schema_name: str
    version: str
    label: LabelSpec
    features: list[str]
    metadata: list[str] = []

    @property
    def columns(self) -> list[str]:
        return [self.label.name, *self.features]

    def same_columns(self, other: Layout) -> bool:
        return self.label == other.label and self.features == other.features and self.metadata == other.metadata


class FeatureSchema(BaseModel):
    """Label first, then the features, in this order: the CSV contract of the built-in XGBoost."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    label: LabelSpec
    features: list[FeatureSpec]
    unknown_fields: Literal["ignore", "reject"] = "ignore"
    metadata: list[MetadataSpec] = []

    @model_validator(mode="after")
    def _metadata_names_are_their_own(self) -> Self:
        names = [spec.name for spec in self.metadata]
        taken = set(self.columns)
        clash = next((name for i, name in enumerate(names) if name in taken or name in names[:i]), None)
        if clash is not None:
            raise ValueError(
                f"metadata field {clash!r} is named twice: give each column and metadata field its own name"
            )
        event_times = [spec.name for spec in self.metadata if spec.type == "event_time"]
        if len(event_times) > 1:
            raise ValueError(f"metadata has {len(event_times)} event_time fields ({', '.join(event_times)}): keep one")
        return self

    @property
    def columns(self) -> list[str]:
        return [self.label.name, *(feature.name for feature in self.features)]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> FeatureSchema:
        """A copy, with ``update`` applied; what was derived from this schema is derived again for it."""
        copy = super().model_copy(update=update, deep=deep)
        for name, attribute in vars(FeatureSchema).items():
            if isinstance(attribute, cached_property):
                copy.__dict__.pop(name, None)
        return copy

    @cached_property
    def width(self) -> int:
        """How many columns a row has: the label and the features."""
        return len(self.features) + 1

    @property
    def metadata_names(self) -> list[str]:
        return [spec.name for spec in self.metadata]

    @cached_property
    def version(self) -> str:
        """A hash of what the schema says (all but its description): another version is another contract.

        A schema without metadata hashes as it did before schemas had any, so its parts keep their layout.
        """
        left_out = {"description"} if self.metadata else {"description", "metadata"}
        content = json.dumps(self.model_dump(mode="json", exclude=left_out), sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:12]

    @property
    def layout(self) -> Layout:
        return Layout(
            schema_name=self.name,
            version=self.version,
            label=self.label,
            features=[feature.name for feature in self.features],
            metadata=self.metadata_names,
        )

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset([*self.columns, *self.metadata_names])

    @cached_property
    def _metadata_checks(self) -> tuple[Callable[[Any], str | Problem], ...]:
        return tuple(partial(_metadata_value, spec) for spec in self.metadata)

    @cached_property
    def event_time_index(self) -> int | None:
        """The position of the event_time field among the metadata fields; None if there is none."""
        return next((i for i, spec in enumerate(self.metadata) if spec.type == "event_time"), None)

    def csv_columns(self, metadata: Sequence[str] | None = None) -> CsvColumns:
        """The columns of a CSV file: the schema's, then ``metadata`` (all of the schema's, in order, if None)."""
        return CsvColumns(self, tuple(self.metadata_names if metadata is None else metadata))

    def read_header(self, header: list[str]) -> CsvColumns | Rejection:
        """The columns a header names: the schema's columns, then any of its metadata fields once each, in any order."""
        width = len(self.columns)
        extra = header[width:]
        if header[:width] == self.columns and len(set(extra)) == len(extra) and set(extra) <= set(self.metadata_names):
            return self.csv_columns(extra)
        expected = ",".join(self.columns)
        if self.metadata:
            expected += f", then any of the metadata columns {','.join(self.metadata_names)}"
        return Rejection(rule="header", message=f"header must be {expected}", line=1, value=",".join(header)[:200])

    @cached_property
    def _columns(self) -> tuple[_Column, ...]:
        label = _Column(self.label.name, partial(_label_value, self.label))
        return (label, *(_Column(feature.name, partial(_feature_value, feature)) for feature in self.features))

    @cached_property
    def _plain_records(self) -> _PlainRecords:
        return _PlainRecords.of(self)

    def parse_row(self, cells: list[str], line: int | None = None) -> list[Value] | Rejection:
        """Validate one CSV row (label first) given as strings."""
        if len(cells) != len(self._columns):
            return Rejection(
                rule="column-count",
                message=f"expected {len(self.columns)} columns ({', '.join(self.columns)}), found {len(cells)}",
                line=line,
                value=",".join(cells)[:200],
            )
        return self._parse(cells, line)

    def parse_rows(self, rows: list[list[str]]) -> list[str | None]:
        """Validate CSV rows column by column: each row's line as ``csv_row`` writes it, or None.

        None marks a row that ``parse_row`` would not accept as it is: a bad row, a blank one, or
        one of another width; only ``parse_row`` says why. Each distinct value of a column is
        checked and formatted once, with the check ``parse_row`` uses, so every other row gets the
        very line ``csv_row(parse_row(row))`` gives.
        """
        width = len(self._columns)
        fits = list(map(width.__eq__, map(len, rows)))
        cells = list(chain.from_iterable(compress(rows, fits)))
        texts: list[list[str]] = []
        bad: set[int] = set()
        for index, column in enumerate(self._columns):
            # The last column's texts end the line, so that joining a row's texts with commas gives it
            column_texts, column_bad = column.texts(cells[index::width], end="\n" if index == width - 1 else "")
            texts.append(column_texts)
            bad.update(column_bad)
        lines: list[str | None] = list(map(",".join, zip(*texts, strict=True)))
        for position in bad:
            lines[position] = None
        if all(fits):
            return lines
        fitting = iter(lines)
        return [next(fitting) if fit else None for fit in fits]

    def parse_record(self, record: Any) -> list[Value] | Rejection:
        """Validate one JSON record (an object with the label and every feature by name).

        Fields the schema does not name are dropped or rejected, as ``unknown_fields`` says.
        """
        values = self._plain_records(record)
        if values is not None:
            return values
        return self._check_record(record)

    def parse_metadata(self, record: dict[str, Any]) -> list[str] | Rejection:
        """The metadata values of a JSON record ``parse_record`` accepts, in schema order (empty when missing)."""
        return self._parse_metadata([record.get(spec.name) for spec in self.metadata], None)

    def record_row(self, record: Any) -> str | Rejection:
        """A JSON record as the line the Firehose transform writes: label and features, then the metadata cells."""
        # parse_record's two steps, called here directly: this is most of the transform's time
        values: list[Value] | Rejection | None = self._plain_records(record)
        if values is None:
            values = self._check_record(record)
        if isinstance(values, Rejection):
            return values
        if not self.metadata:
            return csv_row(values)
        metadata = self.parse_metadata(record)
        if isinstance(metadata, Rejection):
            return metadata
        return csv_row(values)[:-1] + "," + ",".join(map(_quoted, metadata)) + "\n"

    def unknown_field_names(self, record: dict[str, Any]) -> list[str]:
        """The names in ``record`` that the schema does not name (as a column or metadata), in the record's order."""
        return list(filterfalse(self._names.__contains__, record))

    def _check_record(self, record: Any) -> list[Value] | Rejection:
        """``parse_record`` column by column: the values, or the first problem."""
        if not isinstance(record, dict):
            return Rejection(rule="not-object", message=f"expected a JSON object, got {type(record).__name__}")
        columns = self.columns
        if len(record) != len(columns) or not all(column in record for column in columns):
            unknown = sorted(self.unknown_field_names(record)) if self.unknown_fields == "reject" else []
            if unknown:
                return Rejection(rule="unknown-field", message=f"unknown field {unknown[0]!r}", column=unknown[0])
            missing = next((column for column in columns if column not in record), None)
            if missing is not None:
                return Rejection(rule="missing-field", message=f"missing field {missing!r}", column=missing)
        return self._parse([record[column] for column in columns], None)

    def _parse(self, raw: list[Any], line: int | None) -> list[Value] | Rejection:
        """Label and features from strings (CSV) or JSON values; the first problem if any."""
        values: list[Value] = []
        for column, cell in zip(self._columns, raw, strict=True):
            value = column.check(cell)
            if isinstance(value, tuple):
                rule, message = value
                return Rejection(rule=rule, message=message, line=line, column=column.name, value=_shown(cell))
            values.append(value)
        return values

    def _parse_metadata(self, raw: list[Any], line: int | None) -> list[str] | Rejection:
        """Metadata values (schema order, None for a missing one) as the texts kept; the first problem if any."""
        texts: list[str] = []
        for spec, check, cell in zip(self.metadata, self._metadata_checks, raw, strict=True):
            text = check(cell)
            if isinstance(text, tuple):
                rule, message = text
                return Rejection(rule=rule, message=message, line=line, column=spec.name, value=_shown(cell))
            texts.append(text)
        return texts


class ParsedRow(NamedTuple):
    """A CSV row that passed: its label and features, and its metadata in schema order."""

    values: list[Value]
    metadata: list[str]


@dataclass(frozen=True, slots=True)
class CheckedRows:
    """Rows checked together: each row's line (``csv_row``) or None, as ``FeatureSchema.parse_rows`` gives them.

    With metadata, ``metadata`` has each good row's metadata line (``metadata_row``, schema order)
    and ``event_times`` its event time (normalised; empty if none); both are None otherwise.
    """

    lines: list[str | None]
    metadata: list[str | None] | None = None
    event_times: list[str] | None = None


@dataclass(frozen=True)
class CsvColumns:
    """The columns of a CSV file's rows: the schema's columns, then the metadata fields ``metadata`` names, in order."""

    schema: FeatureSchema
    metadata: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [*self.schema.columns, *self.metadata]

    @cached_property
    def _positions(self) -> tuple[int | None, ...]:
        """For each metadata field of the schema, in schema order, the position of its cell in a row; None if absent."""
        width = len(self.schema.columns)
        return tuple(
            width + self.metadata.index(name) if name in self.metadata else None for name in self.schema.metadata_names
        )

    def parse_row(self, cells: list[str], line: int | None = None) -> ParsedRow | Rejection:
        """Validate one CSV row: its values and metadata, or why it is not accepted."""
        names = self.names
        if len(cells) != len(names):
            return Rejection(
                rule="column-count",
                message=f"expected {len(names)} columns ({', '.join(names)}), found {len(cells)}",
                line=line,
                value=",".join(cells)[:200],
            )
        width = len(self.schema.columns)
        values = self.schema._parse(cells[:width], line)
        if isinstance(values, Rejection):
            return values
        metadata = self.schema._parse_metadata(self._metadata_cells(cells), line)
        return metadata if isinstance(metadata, Rejection) else ParsedRow(values, metadata)

    def parse_rows(self, rows: list[list[str]]) -> CheckedRows:
        """Validate CSV rows column by column, as ``FeatureSchema.parse_rows`` does, metadata cells too."""
        schema = self.schema
        if not schema.metadata:
            return CheckedRows(schema.parse_rows(rows))
        width, total = len(schema.columns), len(self.names)
        # A row of another width becomes one with no cells, which parse_rows marks None
        lines = schema.parse_rows([row[:width] if len(row) == total else [] for row in rows])
        columns: list[list[str | Problem]] = []
        for check, position in zip(schema._metadata_checks, self._positions, strict=True):
            texts: dict[Any, str | Problem] = {}
            column = []
            for row, line in zip(rows, lines, strict=True):
                cell = None if position is None or line is None else row[position]
                text: str | Problem | None = texts.get(cell)
                if text is None:
                    text = texts[cell] = check(cell)
                column.append(text)
            columns.append(column)
        metadata: list[str | None] = []
        for index, texts_of_row in enumerate(zip(*columns, strict=True)):
            if lines[index] is not None and any(isinstance(text, tuple) for text in texts_of_row):
                lines[index] = None
            metadata.append(None if lines[index] is None else metadata_row(cast(list[str], list(texts_of_row))))
        at = schema.event_time_index
        event_times = [""] * len(rows) if at is None else [t if isinstance(t, str) else "" for t in columns[at]]
        return CheckedRows(lines, metadata, event_times)

    def _metadata_cells(self, cells: list[str]) -> list[str | None]:
        return [None if position is None else cells[position] for position in self._positions]


@dataclass(frozen=True, slots=True)
class _Column:
    """A column's name and its check, bound to its spec: a cell's value, or the problem it has."""

    name: str
    check: Callable[[Any], Value | Problem]

    def texts(self, cells: list[str], end: str) -> tuple[list[str], list[int]]:
        """Each cell's text in a CSV line, then ``end``; and the positions of the bad cells (whose text is empty)."""
        texts = dict.fromkeys(cells, "")
        bad = set()
        for cell in texts:
            value = self.check(cell)
            if isinstance(value, tuple):
                bad.add(cell)
            else:
                texts[cell] = repr(value) + end
        positions = [position for position, cell in enumerate(cells) if cell in bad] if bad else []
        return list(map(texts.__getitem__, cells)), positions


# An int past 2**53 may not survive float() whole, and one past 2**1023 counts as infinite
EXACT_INT = 2**53
FINITE_INT = 2**1023 - 1


@dataclass(frozen=True, slots=True)
class _PlainRecords:
    """The usual JSON record, checked in passes that run in C; None for any other record.

    A record passes if it has the schema's fields (and no others, unless the schema ignores
    unknown fields: then any others are left out), each value of its column's JSON type
    (an int for the label and integer features, an int or a float for numbers; a bool is neither)
    and within the column's bounds, and the label one of its values. The bounds leave out the ints
    the column checks would round or call infinite, so every record that passes is one the checks
    accept, with the same values; the checks say what is wrong with the others.
    """

    width: int
    exact: bool
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]
    types: tuple[frozenset[type], ...]
    lows: tuple[Value, ...]
    highs: tuple[Value, ...]
    kinds: tuple[type[Value], ...]
    labels: frozenset[int]

    @classmethod
    def of(cls, schema: FeatureSchema) -> _PlainRecords:
        names = schema.columns
        whole, number = frozenset({int}), frozenset({int, float})
        integer = [feature.type == "integer" for feature in schema.features]
        return cls(
            width=len(names),
            exact=schema.unknown_fields == "reject",
            values_of=itemgetter(*names) if len(names) > 1 else lambda record: (record[names[0]],),
            types=(whole, *(whole if exact else number for exact in integer)),
            lows=(-EXACT_INT, *(_low(feature) for feature in schema.features)),
            highs=(EXACT_INT, *(_high(feature) for feature in schema.features)),
            kinds=(int, *(int if exact else float for exact in integer)),
            labels=frozenset(schema.label.values),
        )

    def __call__(self, record: Any) -> list[Value] | None:
        # The usual record has exactly the schema's fields: one comparison; a longer one fits unless exact
        if type(record) is not dict or (len(record) != self.width and (self.exact or len(record) < self.width)):
            return None
        try:
            raw = self.values_of(record)
        except KeyError:
            return None
        plain = (
            all(map(contains, self.types, map(type, raw)))
            and all(map(le, self.lows, raw))
            and all(map(le, raw, self.highs))
            and raw[0] in self.labels
        )
        return list(map(type.__call__, self.kinds, raw)) if plain else None


def _low(feature: FeatureSpec) -> Value:
    limit = -EXACT_INT if feature.type == "integer" else -FINITE_INT
    return limit if feature.min is None else max(feature.min, limit)


def _high(feature: FeatureSpec) -> Value:
    limit = EXACT_INT if feature.type == "integer" else FINITE_INT
    return limit if feature.max is None else min(feature.max, limit)


def _label_value(label: LabelSpec, cell: Any) -> Value | Problem:
    """The label as an int, or its problem: not a number, not whole, or not one of the label's values."""
    number = _number(cell)
    if number is None or not number.is_integer() or int(number) not in label.values:
        allowed = ", ".join(str(v) for v in label.values)
        return "type" if isinstance(cell, bool) else "label", f"{label.name} must be one of {allowed}"
    return int(number)


def _feature_value(feature: FeatureSpec, cell: Any) -> Value | Problem:
    """The feature's value (an int for an integer feature), or the first rule it breaks. Messages only on failure."""
    number = _number(cell)
    if number is None:
        empty = isinstance(cell, str) and not cell.strip()
        return ("missing-value", f"{feature.name} is empty") if empty else ("type", f"{feature.name} must be a number")
    if not math.isfinite(number):
        return "not-finite", f"{feature.name} must be finite"
    if feature.type == "integer" and not number.is_integer():
        return "type", f"{feature.name} must be a whole number"
    if feature.min is not None and number < feature.min:
        return "min", f"{feature.name} must be at least {feature.min:g}"
    if feature.max is not None and number > feature.max:
        return "max", f"{feature.name} must be at most {feature.max:g}"
    return int(number) if feature.type == "integer" else number


def _number(cell: Any) -> float | None:
    """The cell as a float: numbers as they are, strings parsed, anything else (booleans too) None."""
    kind = type(cell)
    if kind is float:
        return float(cell)
    if kind is int:
        # A JSON integer past float's range (10**400) is infinitely large for every check.
        return float(cell) if abs(cell) < 2**1023 else (math.inf if cell > 0 else -math.inf)
    if kind is str:
        try:
            return float(cell)
        except ValueError:
            return None
    return None


def _shown(cell: Any) -> str:
    return (cell if isinstance(cell, str) else json.dumps(cell))[:200]


def _metadata_value(spec: MetadataSpec, cell: Any) -> str | Problem:
    """The text kept for a metadata cell (a JSON value, a CSV cell, or None when missing), or its problem."""
    if cell is None:
        return ""
    if spec.type == "event_time":
        return _event_time(spec.name, cell)
    if isinstance(cell, str):
        # A sidecar holds one line per row: a line break in a value would shift every line after it
        if "\n" in cell or "\r" in cell:
            return "metadata", f"{spec.name} must not hold a line break"
        return cell
    if isinstance(cell, dict | list):
        kind = "an object" if isinstance(cell, dict) else "an array"
        return "metadata", f"{spec.name} must be a string, number or boolean, not {kind}"
    return json.dumps(cell)


def _event_time(name: str, cell: Any) -> str | Problem:
    """An event time as ISO 8601 UTC with a Z: from ISO 8601 (naive is UTC) or epoch seconds (a number, or its text)."""
    problem = "event-time", f"{name} must be an ISO 8601 time or epoch seconds"
    if isinstance(cell, str) and not cell.strip():
        return ""
    try:
        if isinstance(cell, str):
            try:
                when = datetime.fromisoformat(cell.strip())
            except ValueError:
                when = _epoch(float(cell))
        elif type(cell) in (int, float):
            when = _epoch(cell)
        else:
            return problem
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return problem
    return when.replace(tzinfo=None).isoformat() + "Z"


def _epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("not a finite number of seconds")
    return datetime.fromtimestamp(seconds, UTC)


def _quoted(text: str) -> str:
    """A cell as the csv module writes it (QUOTE_MINIMAL)."""
    if any(mark in text for mark in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_row(values: list[Value]) -> str:
    """Values as one headerless CSV line, label first (the training channel format)."""
    return ",".join(map(repr, values)) + "\n"


def metadata_row(texts: list[str]) -> str:
    """Metadata values as one headerless CSV line (a metadata sidecar's), quoted as the csv module does."""
    # A lone empty cell is quoted, as csv.writer does, or the line would read as no cells at all
    return '""\n' if texts == [""] else ",".join(map(_quoted, texts)) + "\n"


def newest_event_time(event_times: Sequence[str]) -> datetime | None:
    """The newest of normalised event times (empty ones left out); None if there is none."""
    return max(map(datetime.fromisoformat, set(event_times) - {""}), default=None)


@cache
def load_schema(name: str) -> FeatureSchema:
    """The schema ``conveyor/schemas/<name>.json``; a clear error if there is none."""
    resource = resources.files("conveyor") / "schemas" / f"{name}.json"
    if not resource.is_file():
        raise ConfigurationError(f"FEATURE_SCHEMA: no schema named {name!r} in conveyor/schemas/")
    return FeatureSchema.model_validate_json(resource.read_text(encoding="utf-8"))
