"""The feature schema: one definition of the label and features that every validator uses.

Schemas are JSON documents in ``conveyor/schemas/``; the stack's ``FeatureSchema`` parameter
names the one in force. Validation returns the row's values, or a :class:`Rejection` that says
which line, column, value and rule failed.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from conveyor.errors import ConfigurationError

Value = int | float


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


class FeatureSchema(BaseModel):
    """Label first, then the features, in this order: the CSV contract of the built-in XGBoost."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    label: LabelSpec
    features: list[FeatureSpec]

    @property
    def columns(self) -> list[str]:
        return [self.label.name, *(feature.name for feature in self.features)]

    def parse_row(self, cells: list[str], line: int | None = None) -> list[Value] | Rejection:
        """Validate one CSV row (label first) given as strings."""
        if len(cells) != len(self.columns):
            return Rejection(
                rule="column-count",
                message=f"expected {len(self.columns)} columns ({', '.join(self.columns)}), found {len(cells)}",
                line=line,
                value=",".join(cells)[:200],
            )
        return self._parse(cells, line)

    def parse_record(self, record: Any) -> list[Value] | Rejection:
        """Validate one JSON record (an object with the label and every feature by name)."""
        if not isinstance(record, dict):
            return Rejection(rule="not-object", message=f"expected a JSON object, got {type(record).__name__}")
        if len(record) != len(self.columns) or not all(column in record for column in self.columns):
            unknown = sorted(set(record) - set(self.columns))
            if unknown:
                return Rejection(rule="unknown-field", message=f"unknown field {unknown[0]!r}", column=unknown[0])
            missing = next(column for column in self.columns if column not in record)
            return Rejection(rule="missing-field", message=f"missing field {missing!r}", column=missing)
        return self._parse([record[column] for column in self.columns], None)

    def _parse(self, raw: list[Any], line: int | None) -> list[Value] | Rejection:
        """Label and features from strings (CSV) or JSON values; the first problem if any."""
        label = _number(raw[0])
        if label is None or not label.is_integer() or int(label) not in self.label.values:
            allowed = ", ".join(str(v) for v in self.label.values)
            return Rejection(
                rule="type" if isinstance(raw[0], bool) else "label",
                message=f"{self.label.name} must be one of {allowed}",
                line=line,
                column=self.label.name,
                value=_shown(raw[0]),
            )
        values: list[Value] = [int(label)]
        for feature, cell in zip(self.features, raw[1:], strict=True):
            number = _number(cell)
            problem = _problem(feature, cell, number)
            if problem is not None:
                rule, message = problem
                return Rejection(rule=rule, message=message, line=line, column=feature.name, value=_shown(cell))
            assert number is not None
            values.append(int(number) if feature.type == "integer" else number)
        return values


def _number(cell: Any) -> float | None:
    """The cell as a float: numbers as they are, strings parsed, anything else (booleans too) None."""
    kind = type(cell)
    if kind is float or kind is int:
        return float(cell)
    if kind is str:
        try:
            return float(cell)
        except ValueError:
            return None
    return None


def _shown(cell: Any) -> str:
    return (cell if isinstance(cell, str) else json.dumps(cell))[:200]


def _problem(feature: FeatureSpec, cell: Any, number: float | None) -> tuple[str, str] | None:
    """The (rule, message) a feature's cell breaks; None when it is valid. Messages only on failure."""
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
    return None


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
