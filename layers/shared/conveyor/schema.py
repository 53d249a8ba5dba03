"""The feature schema: one definition of the label and features that every validator uses.

Schemas are JSON documents in ``conveyor/schemas/``; the stack's ``FeatureSchema`` parameter
names the one in force. Validation returns the row's values, or a :class:`Rejection` that says
which line, column, value and rule failed.

A JSON record may carry fields the schema does not name (a device id, a timestamp): the schema's
``unknown_fields`` says what happens to them. ``"ignore"`` (the default) drops them, whatever
their values, and the caller counts them (``unknown_field_names`` names them); ``"reject"`` rejects
the record with rule ``unknown-field``, naming the first such field. A CSV row has no names, so
this applies to JSON records only.

Each column's check is bound once per schema (``_Column``), and one check serves every path: a
JSON record, a CSV row, and a batch of CSV rows checked column by column (``parse_rows``). A JSON
record of plain values is first tried by ``_PlainRecords``, which accepts only what the checks
accept, a few times faster (the Firehose transform's 6 MB batch is most of its time here).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property, partial
from importlib import resources
from itertools import chain, compress, filterfalse
from operator import contains, itemgetter, le
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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


class Layout(BaseModel):
    """The columns a part was written in, or a model was trained on: label first, then the features.

    ``schema_name`` and ``version`` name the schema it came from (``FeatureSchema.version``). Two
    layouts with the same label and feature names hold the same data in the same place, whatever
    else their schemas say (a bound, a description): :meth:`same_columns`.
    """

    model_config = ConfigDict(frozen=True)

    schema_name: str
    version: str
    label: LabelSpec
    features: list[str]

    @property
    def columns(self) -> list[str]:
        return [self.label.name, *self.features]

    def same_columns(self, other: Layout) -> bool:
        return self.label == other.label and self.features == other.features


class FeatureSchema(BaseModel):
    """Label first, then the features, in this order: the CSV contract of the built-in XGBoost."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    label: LabelSpec
    features: list[FeatureSpec]
    unknown_fields: Literal["ignore", "reject"] = "ignore"

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
    def version(self) -> str:
        """A hash of what the schema says (all but its description): another version is another contract."""
        content = json.dumps(self.model_dump(mode="json", exclude={"description"}), sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:12]

    @property
    def layout(self) -> Layout:
        return Layout(
            schema_name=self.name,
            version=self.version,
            label=self.label,
            features=[feature.name for feature in self.features],
        )

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset(self.columns)

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

    def unknown_field_names(self, record: dict[str, Any]) -> list[str]:
        """The names in ``record`` that the schema does not name, in the record's order."""
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


def csv_row(values: list[Value]) -> str:
    """Values as one headerless CSV line, label first (the training channel format)."""
    return ",".join(map(repr, values)) + "\n"


@cache
def load_schema(name: str) -> FeatureSchema:
    """The schema ``conveyor/schemas/<name>.json``; a clear error if there is none."""
    resource = resources.files("conveyor") / "schemas" / f"{name}.json"
    if not resource.is_file():
        raise ConfigurationError(f"FEATURE_SCHEMA: no schema named {name!r} in conveyor/schemas/")
    return FeatureSchema.model_validate_json(resource.read_text(encoding="utf-8"))
