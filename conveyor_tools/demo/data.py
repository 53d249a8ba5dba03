"""The demo's data: generated sensor readings, or rows drawn from the user's own CSV under their schema.

Each round of the story asks for rows of the same population (fresh), rows whose labels are
shuffled (no signal left), rows of a drifted population, and inputs that must be set aside.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conveyor.schema import FeatureSchema, load_schema
from conveyor_tools.synthetic import records

Record = dict[str, Any]
# A drifted population: the rows whose chosen feature is in its top share (a selection shift that
# keeps every value inside the schema's bounds).
DRIFTED_SHARE = 0.3


class DemoDataError(Exception):
    """The demo cannot use the given dataset or schema."""


class DemoData(Protocol):
    schema: FeatureSchema

    def describe(self) -> str: ...
    def fresh(self, count: int, seed: int) -> list[Record]: ...
    def shuffled(self, count: int, seed: int) -> list[Record]: ...
    def drifted(self, count: int, seed: int) -> tuple[list[Record], str, str]:
        """Rows of a drifted population, the feature that drifted, and how."""
        ...


def csv_body(rows: list[Record], columns: list[str]) -> bytes:
    """Rows as a CSV upload, header first."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(column, "") for column in columns] for row in rows])
    return text.getvalue().encode()


def bad_records(data: DemoData) -> list[str]:
    """Three stream records the transform must set aside: no features, not JSON, a value out of bounds."""
    schema = data.schema
    bounded = next((f for f in schema.features if f.max is not None), schema.features[0])
    outside = (bounded.max if bounded.max is not None else 0.0) * 10 + 1000
    return [
        json.dumps({schema.label.name: schema.label.values[-1]}),
        "not json at all",
        json.dumps(data.fresh(1, seed=99)[0] | {bounded.name: outside}),
    ]


def bad_rows(data: DemoData) -> list[Record]:
    """Two upload rows whose file is set aside: text in a numeric column, and a missing number (nan)."""
    first, last = data.schema.features[0].name, data.schema.features[-1].name
    good = data.fresh(2, seed=98)
    return [good[0] | {first: "fast"}, good[1] | {last: "nan"}]


@dataclass
class Generated:
    """Readings of the default schema's machines, reproducible from a seed."""

    schema: FeatureSchema = field(default_factory=lambda: load_schema("predictive_maintenance"))

    def describe(self) -> str:
        return "generated readings of the predictive_maintenance schema"

    def fresh(self, count: int, seed: int) -> list[Record]:
        return records(count, seed=seed)

    def shuffled(self, count: int, seed: int) -> list[Record]:
        return records(count, seed=seed, shuffle_labels=True)

    def drifted(self, count: int, seed: int) -> tuple[list[Record], str, str]:
        rows = [row | {"torque_nm": round(float(row["torque_nm"]) * 1.6, 1)} for row in records(count, seed=seed)]
        return rows, "torque_nm", "a recalibrated sensor reads 1.6 times the torque"


@dataclass
class FromCsv:
    """Rows of the user's CSV, taken in a shuffled order round after round: each row once until the
    file is used up, then again."""

    schema: FeatureSchema
    path: Path
    rows: list[Record]
    left_out: int
    order: list[Record] = field(init=False)
    taken: int = 0

    def __post_init__(self) -> None:
        self.order = random.Random(0).sample(self.rows, len(self.rows))

    @classmethod
    def load(cls, path: Path, schema_path: Path) -> FromCsv:
        try:
            schema = FeatureSchema.model_validate_json(schema_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DemoDataError(f"{schema_path}: not a feature schema: {error}") from error
        if sorted(schema.label.values) != [0, 1]:
            raise DemoDataError(
                f"{schema_path}: label {schema.label.name!r} takes {schema.label.values}; the demo trains a binary"
                " classifier (XGBoost's binary:logistic), whose labels are 0 and 1: map your classes to them"
            )
        rows, left_out = _read_rows(path, schema)
        labels = {row[schema.label.name] for row in rows}
        if len(rows) < 50 or len(labels) < 2:
            raise DemoDataError(
                f"{path}: {len(rows)} usable rows, labels {sorted(labels)}; the demo needs 50 or more, of both labels"
            )
        return cls(schema, path, rows, left_out)

    def describe(self) -> str:
        left = f"; {self.left_out} rows outside the schema left out" if self.left_out else ""
        return f"{len(self.rows)} rows of {self.path}, taken in a shuffled order, each once until all are used{left}"

    def fresh(self, count: int, seed: int) -> list[Record]:
        """The next ``count`` rows of the file, in an order shuffled once: rounds hold different rows
        until the file is used up, and then its rows again, in the same order (``seed`` is not needed)."""
        taken = [self.order[(self.taken + i) % len(self.order)] for i in range(count)]
        self.taken += count
        return taken

    def shuffled(self, count: int, seed: int) -> list[Record]:
        rows = self.fresh(count, seed)
        label = self.schema.label.name
        labels = [row[label] for row in rows]
        random.Random(f"shuffle-{seed}").shuffle(labels)
        return [row | {label: value} for row, value in zip(rows, labels, strict=True)]

    def drifted(self, count: int, seed: int) -> tuple[list[Record], str, str]:
        feature = max(self.schema.features, key=lambda f: len({row[f.name] for row in self.rows})).name
        ordered = sorted(self.rows, key=lambda row: row[feature])
        top = ordered[math.floor(len(ordered) * (1 - DRIFTED_SHARE)) :]
        return (
            random.Random(seed).choices(top, k=count),
            feature,
            f"only rows of the top {DRIFTED_SHARE:.0%} of {feature}",
        )


def _read_rows(path: Path, schema: FeatureSchema) -> tuple[list[Record], int]:
    """The CSV's rows as records of the schema's columns (numbers parsed); rows that do not fit are counted."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            needed = [*schema.columns, *(meta.name for meta in schema.metadata)]
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise DemoDataError(f"{path}: line 1: no column {missing[0]!r} of schema {schema.name!r}")
            rows, left_out = [], 0
            for line in reader:
                row = _record(line, schema)
                if row is None:
                    left_out += 1
                else:
                    rows.append(row)
    except (OSError, UnicodeDecodeError) as error:
        raise DemoDataError(f"{path}: cannot read it: {error}") from error
    return rows, left_out


def _record(line: dict[str, str], schema: FeatureSchema) -> Record | None:
    try:
        label = float(line[schema.label.name])
        if not label.is_integer():
            return None
        row: Record = {schema.label.name: int(label)}
        for feature in schema.features:
            value = float(line[feature.name])
            if not math.isfinite(value) or (feature.min is not None and value < feature.min):
                return None
            if feature.max is not None and value > feature.max:
                return None
            row[feature.name] = int(value) if feature.type == "integer" else value
    except (TypeError, ValueError):
        return None
    if row[schema.label.name] not in schema.label.values:
        return None
    return row | {meta.name: line[meta.name] for meta in schema.metadata}


def install_schema(schema: FeatureSchema, source: Path, schemas: Path) -> Path:
    """Put ``schema`` where the stack's functions read schemas (the shared layer's ``schemas/``), as a
    deployment needs it too; the path. A different schema of the same name there is an error."""
    target = schemas / f"{schema.name}.json"
    if target.exists():
        if FeatureSchema.model_validate_json(target.read_text(encoding="utf-8")) != schema:
            raise DemoDataError(f"{source}: a different schema named {schema.name!r} is already at {target}")
        return target
    target.write_text(schema.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
    return target
