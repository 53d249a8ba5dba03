"""``conveyor schema infer DATA.csv --label COLUMN``: a feature schema for your own data, and what it decided.

The file is read once as a stream (a header, then rows; :mod:`conveyor_tools.csv_profile`), so
memory does not grow with its size. The label column must hold whole numbers, as the schema's
label check reads them: they are the classes, and become the label's values. Every other column
is looked at on its own:

- A column of numbers is a feature: ``integer`` if every value is written as one (``12``, not
  ``12.0``), ``number`` otherwise. Its bounds are the observed range widened by the margin on each
  side, then rounded outward at the widening's second significant digit (an integer feature's to
  whole numbers at least), so they read as a person would write them. A feature never negative is
  given no negative min; a constant one is widened by the margin of its value (of 1 for a zero), or
  the next reading that differs at all would be refused.
- A column with text in it cannot be a feature (the schema takes numbers only). It is kept as a
  metadata field beside each row rather than dropped: ``event_time`` if every value is an ISO 8601
  time or empty (the first such column; a schema has one), ``string`` otherwise. One whose text
  holds a line break cannot be kept (a sidecar holds a value per line) and is left out.
- An empty or non-finite cell of a feature is a value the schema refuses (rules ``missing-value``,
  ``not-finite``): the feature is still inferred from the other cells, and the rows holding one are
  counted as those an upload of this file would set aside.

The metadata values are checked with the schema's own rules, and the schema is built by
FeatureSchema's validation, so every row of the file but those counted passes its validators.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from conveyor.schema import FeatureSchema, FeatureSpec, LabelSpec, MetadataSpec
from conveyor_tools.csv_profile import ColumnProfile, ProfileError, profile

# template.yaml's AllowedPattern for the FeatureSchema parameter
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Bounds stay finite: JSON has no infinity
LARGEST = sys.float_info.max


class InferError(Exception):
    """The file gives no schema, or it cannot be written: the message names the file, line, column and value."""


@dataclass(frozen=True)
class InferredFeature:
    """A feature written, the range of its finite values, and how many of its cells were empty or not finite."""

    spec: FeatureSpec
    low: float
    high: float
    missing: int


@dataclass(frozen=True)
class NotAFeature:
    """A column that holds something other than numbers: why, and the metadata field it is kept as (None: left out)."""

    name: str
    why: str
    metadata: MetadataSpec | None


@dataclass(frozen=True)
class Inferred:
    """The schema inferred from a file, and what the summary says about it."""

    schema: FeatureSchema
    source: Path
    margin: float
    rows: int
    label_counts: dict[int, int]
    features: list[InferredFeature]
    not_features: list[NotAFeature]
    rows_set_aside: int
    header_fits: bool
    """Whether the schema accepts the file's header as it is (label first, the features in order, then metadata)."""


def infer(source: Path, label: str, *, name: str | None = None, margin: float = 0.1) -> Inferred:
    """The schema of the CSV file ``source`` with ``label`` as its label, named ``name`` (default: from the file's)."""
    schema_name = default_name(source) if name is None else name
    if not NAME_PATTERN.fullmatch(schema_name):
        raise InferError(
            f"schema name {schema_name!r}: a schema name is a lower-case letter, then up to 63 lower-case letters, "
            "digits or _ (template.yaml's pattern for FeatureSchema)"
        )
    try:
        table = profile(source, label)
    except ProfileError as error:
        raise InferError(str(error)) from error
    if table.rows == 0:
        raise InferError(f"{source}: no rows after the header")
    features = [_feature(column, margin) for column in table.columns if column.numeric]
    not_features = _not_features([column for column in table.columns if not column.numeric])
    if not features:
        reasons = "; ".join(f"{column.name} {column.why}" for column in not_features) or "it has no other column"
        raise InferError(f"{source}: no column but the label can be a feature: {reasons}")
    schema = FeatureSchema.model_validate(
        {
            "name": schema_name,
            "description": f"Inferred from {source.name} ({_rows(table.rows)}) by conveyor schema infer.",
            "label": LabelSpec(name=label, values=sorted(table.labels)),
            "features": [feature.spec for feature in features],
            "metadata": [column.metadata for column in not_features if column.metadata is not None],
        }
    )
    return Inferred(
        schema=schema,
        source=source,
        margin=margin,
        rows=table.rows,
        label_counts=dict(table.labels),
        features=features,
        not_features=not_features,
        rows_set_aside=table.rows_missing({feature.spec.name for feature in features}),
        header_fits=table.header == [*schema.columns, *schema.metadata_names],
    )


def default_name(source: Path) -> str:
    """The file's name (without its extension) as a schema name: lower case, other characters as _, from a letter on."""
    words = re.sub(r"[^a-z0-9]+", "_", source.stem.lower())
    return re.sub(r"^[^a-z]+", "", words)[:64].rstrip("_") or "inferred"


def schema_json(schema: FeatureSchema) -> str:
    """The schema as the shipped ones are written: a line for each feature and metadata field, integer bounds whole."""
    document: dict[str, Any] = {
        "name": schema.name,
        "description": schema.description,
        "label": schema.label.model_dump(),
        "features": [_feature_json(feature) for feature in schema.features],
    }
    if schema.metadata:
        document["metadata"] = [spec.model_dump() for spec in schema.metadata]

    def shown(value: Any) -> str:
        if isinstance(value, list):
            return "[\n" + ",\n".join(f"    {json.dumps(item, ensure_ascii=False)}" for item in value) + "\n  ]"
        return json.dumps(value, ensure_ascii=False)

    return "{\n" + ",\n".join(f"  {json.dumps(key)}: {shown(value)}" for key, value in document.items()) + "\n}\n"


def write(schema: FeatureSchema, output: Path, *, force: bool = False) -> None:
    """Write the schema to ``output``; over an existing file only with ``force`` (it may have been edited by hand)."""
    try:
        with output.open("w" if force else "x", encoding="utf-8") as file:
            file.write(schema_json(schema))
    except FileExistsError as error:
        raise InferError(f"{output} exists: pass --force to overwrite it, or --output to write elsewhere") from error
    except OSError as error:
        raise InferError(f"{output}: {error.strerror}") from error


def describe(inferred: Inferred, output: Path) -> list[str]:
    """What was inferred and why, what to look at, and how to ship the schema, line by line."""
    schema = inferred.schema
    counts = ", ".join(f"{value}: {count}" for value, count in sorted(inferred.label_counts.items()))
    width = max(len(feature.spec.name) for feature in inferred.features)
    lines = [
        f"Inferred schema {schema.name} from {inferred.source} ({_rows(inferred.rows)}); wrote {output}",
        f"Label {schema.label.name}, rows of each value: {counts}",
        f"Features: observed range -> bounds written (widened by {inferred.margin * 100:g} % of the range each side)",
        *(
            f"  {feature.spec.name:<{width}}  {feature.spec.type:<7}  {_range(feature)}"
            for feature in inferred.features
        ),
    ]
    if inferred.not_features:
        lines.append("Not features (a feature holds numbers only):")
        lines += [f"  {column.name} {column.why}" for column in inferred.not_features]
    lines += _warnings(inferred)
    lines.append(
        f"To use it: put it in layers/shared/conveyor/schemas/ as {schema.name}.json and deploy with "
        f"FeatureSchema={schema.name}; first, `conveyor schema diff <the schema in force> {output}` says what it "
        "does to the data already in the stack."
    )
    return lines


def _feature(column: ColumnProfile, margin: float) -> InferredFeature:
    kind: Literal["number", "integer"] = "integer" if column.integer else "number"
    low, high = _bounds(column.low, column.high, margin, whole=column.integer)
    spec = FeatureSpec(name=column.name, type=kind, min=low, max=high)
    return InferredFeature(spec=spec, low=column.low, high=column.high, missing=column.missing)


def _bounds(low: float, high: float, margin: float, *, whole: bool) -> tuple[float, float]:
    """The range widened by ``margin`` of it on each side and rounded outward; never below 0 if ``low`` is not.

    The arithmetic is exact on the decimals the floats stand for (``1.5 - 0.05`` is 1.45, not
    1.4499999999999999556 rounded down to 1.449); only the bounds become floats.
    """
    lowest, highest = _decimal(low), _decimal(high)
    # A constant is widened by its own size, so the next reading need not be the very same
    span = highest - lowest or abs(lowest) or Fraction(1)
    widening = _decimal(margin) * span
    wide_low, wide_high = lowest - widening, highest + widening
    if lowest >= 0:
        wide_low = max(wide_low, Fraction(0))
    if widening:
        # The second significant digit of the widening (a whole number at least for an integer feature)
        exponent = math.floor(math.log10(widening.numerator) - math.log10(widening.denominator)) - 1
        step = Fraction(10) ** (max(exponent, 0) if whole else exponent)
        wide_low = math.floor(wide_low / step) * step
        wide_high = math.ceil(wide_high / step) * step
    # A float may round a bound inward: the bounds hold every value seen whatever it does
    return min(_float(wide_low), low), max(_float(wide_high), high)


def _decimal(value: float) -> Fraction:
    """The decimal a float is written as (its shortest repr), exactly."""
    return Fraction(repr(value))


def _float(value: Fraction) -> float:
    """The nearest float; the largest one of the sign past float's range (JSON has no infinity)."""
    try:
        return float(value)
    except OverflowError:
        return LARGEST if value > 0 else -LARGEST


def _not_features(columns: list[ColumnProfile]) -> list[NotAFeature]:
    """What each column that is not a feature is kept as; only the first column of times is the event time."""
    found = []
    event_time: str | None = None
    for column in columns:
        why = "has no finite number" if column.text is None else _text_why(column.text)
        if column.line_break is not None:
            why += f"; left out: line {column.line_break} holds a line break, which a metadata value cannot"
            found.append(NotAFeature(column.name, why, None))
            continue
        kind: Literal["string", "event_time"] = "string"
        if column.times:
            if event_time is None:
                kind, event_time = "event_time", column.name
                why += ", an ISO 8601 time like all its values"
            else:
                why += f", a time; kept as a string, as a schema has one event_time ({event_time})"
        found.append(NotAFeature(column.name, f"{why} -> metadata ({kind})", MetadataSpec(name=column.name, type=kind)))
    return found


def _text_why(text: tuple[int, str]) -> str:
    line, cell = text
    return f"holds {cell[:60]!r} on line {line}"


def _feature_json(feature: FeatureSpec) -> dict[str, Any]:
    document = feature.model_dump()
    if feature.type == "integer":
        document |= {"min": int(feature.min or 0), "max": int(feature.max or 0)}
    return document


def _range(feature: InferredFeature) -> str:
    spec = feature.spec
    shown = _shown_int if spec.type == "integer" else _shown_float
    text = f"{shown(feature.low)}..{shown(feature.high)} -> {shown(spec.min or 0.0)}..{shown(spec.max or 0.0)}"
    if feature.low == feature.high:
        text += " (constant)"
    if feature.low >= 0 and spec.min == 0:
        text += " (never negative: min not below 0)"
    return text


def _shown_int(value: float) -> str:
    return str(int(value))


def _shown_float(value: float) -> str:
    return repr(value)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _warnings(inferred: Inferred) -> list[str]:
    lines = [
        f"  {feature.spec.name}: {feature.missing} of its cells empty or not a finite number"
        for feature in inferred.features
        if feature.missing
    ]
    if lines:
        lines.append(
            f"  {inferred.rows_set_aside} of {inferred.rows} rows have such a cell: the schema requires every "
            "feature, so an upload of this file would set them aside (rules missing-value, not-finite)"
        )
    if not inferred.header_fits:
        schema = inferred.schema
        order = ",".join(schema.columns)
        extra = f", then any of {','.join(schema.metadata_names)}" if schema.metadata else ""
        lines.append(f"  The schema takes the header {order}{extra}: an upload of this file needs its columns so")
    return ["Warnings:", *lines] if lines else []
