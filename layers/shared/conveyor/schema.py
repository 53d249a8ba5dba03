"""The feature schema: one definition of the label and features that every validator uses.

Schemas are JSON documents in ``conveyor/schemas/``; the stack's ``FeatureSchema`` parameter
names the one in force. Validation returns the row's values, or a :class:`Rejection` that says
which line, column, value and rule failed.
"""

from __future__ import annotations

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
        label = self._parse_label(cells[0].strip(), line)
        if isinstance(label, Rejection):
            return label
        values: list[Value] = [label]
        for feature, cell in zip(self.features, cells[1:], strict=True):
            value = _parse_feature(feature, cell.strip(), line)
            if isinstance(value, Rejection):
                return value
            values.append(value)
        return values

    def parse_record(self, record: Any) -> list[Value] | Rejection:
        """Validate one JSON record (an object with the label and every feature by name)."""
        if not isinstance(record, dict):
            return Rejection(rule="not-object", message=f"expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(self.columns))
        if unknown:
            return Rejection(rule="unknown-field", message=f"unknown field {unknown[0]!r}", column=unknown[0])
        missing = [column for column in self.columns if column not in record]
        if missing:
            return Rejection(rule="missing-field", message=f"missing field {missing[0]!r}", column=missing[0])
        cells = []
        for column in self.columns:
            raw = record[column]
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                return Rejection(
                    rule="type", message=f"{column} must be a number", column=column, value=repr(raw)[:200]
                )
            cells.append(str(raw))
        return self.parse_row(cells)

    def _parse_label(self, cell: str, line: int | None) -> int | Rejection:
        try:
            number = float(cell)
        except ValueError:
            number = math.nan
        if not number.is_integer() or int(number) not in self.label.values:
            allowed = ", ".join(str(v) for v in self.label.values)
            return Rejection(
                rule="label",
                message=f"{self.label.name} must be one of {allowed}",
                line=line,
                column=self.label.name,
                value=cell[:200],
            )
        return int(number)


def _parse_feature(feature: FeatureSpec, cell: str, line: int | None) -> Value | Rejection:
    problem = _feature_problem(feature, cell)
    if isinstance(problem, tuple):
        rule, message = problem
        return Rejection(rule=rule, message=message, line=line, column=feature.name, value=cell[:200])
    return int(problem) if feature.type == "integer" else problem


def _feature_problem(feature: FeatureSpec, cell: str) -> float | tuple[str, str]:
    """The cell's number, or the (rule, message) it breaks."""
    try:
        number = float(cell) if cell else None
    except ValueError:
        return "type", f"{feature.name} must be a number"
    checks = [
        (number is None, "missing-value", f"{feature.name} is empty"),
        (number is not None and not math.isfinite(number), "not-finite", f"{feature.name} must be finite"),
        (
            feature.type == "integer" and number is not None and math.isfinite(number) and not number.is_integer(),
            "type",
            f"{feature.name} must be a whole number",
        ),
        (
            feature.min is not None and number is not None and number < feature.min,
            "min",
            f"{feature.name} must be at least {feature.min:g}",
        ),
        (
            feature.max is not None and number is not None and number > feature.max,
            "max",
            f"{feature.name} must be at most {feature.max:g}",
        ),
    ]
    for failed, rule, message in checks:
        if failed:
            return rule, message
    assert number is not None
    return number


def csv_row(values: list[Value]) -> str:
    """Values as one headerless CSV line, label first (the training channel format)."""
    return ",".join(repr(v) for v in values) + "\n"


@cache
def load_schema(name: str) -> FeatureSchema:
    """The schema ``conveyor/schemas/<name>.json``; a clear error if there is none."""
    resource = resources.files("conveyor") / "schemas" / f"{name}.json"
    if not resource.is_file():
        raise ConfigurationError(f"FEATURE_SCHEMA: no schema named {name!r} in conveyor/schemas/")
    return FeatureSchema.model_validate_json(resource.read_text(encoding="utf-8"))
