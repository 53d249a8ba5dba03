"""The install-time check: the compiled model predicts what XGBoost predicted for the same rows.

``selftest.json`` (written by the publisher beside the model)::

    {"rows": [[0.5, null, ...], ...], "expected": [0.73, ...] or [[0.1, 0.9], ...], "tolerance": 1e-5}

``null`` is a missing feature value; ``expected`` is XGBoost's own ``predict`` for the rows (one
value per row, or one list per row for a multi-output model); ``tolerance`` (default 1e-5) is the
largest absolute difference allowed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Model

DEFAULT_TOLERANCE = 1e-5


class SelfTestFileError(Exception):
    """``selftest.json`` cannot be read, or a field of it is not what it must be."""


@dataclass(frozen=True)
class SelfTest:
    rows: list[list[float]]
    expected: list[list[float]]
    tolerance: float


@dataclass(frozen=True)
class Mismatch:
    """The first prediction farther from XGBoost's than the tolerance."""

    row: int
    output: int
    expected: float
    actual: float
    tolerance: float

    def __str__(self) -> str:
        output = f", output {self.output}" if self.output else ""
        return (
            f"row {self.row}{output}: expected {self.expected!r}, the compiled model predicts {self.actual!r} "
            f"(difference {abs(self.actual - self.expected):.3g}, tolerance {self.tolerance:g})"
        )


def read(path: Path) -> SelfTest:
    """The self-test in ``path``, or :class:`SelfTestFileError` naming the field that is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SelfTestFileError(f"cannot read {path}: {error.strerror}") from error
    except ValueError as error:
        raise SelfTestFileError(f"{path} is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise SelfTestFileError(f"{path} must hold a JSON object with rows, expected and tolerance")
    rows = _list(document.get("rows"), f"{path}: rows")
    if not rows:
        raise SelfTestFileError(f"{path}: rows is empty; the self-test needs at least one row")
    parsed_rows = [
        [_feature(value, f"{path}: rows[{i}][{j}]") for j, value in enumerate(_list(row, f"{path}: rows[{i}]"))]
        for i, row in enumerate(rows)
    ]
    expected = _list(document.get("expected"), f"{path}: expected")
    if len(expected) != len(rows):
        raise SelfTestFileError(f"{path}: expected has {len(expected)} values for {len(rows)} rows")
    parsed_expected = [_outputs(value, f"{path}: expected[{i}]") for i, value in enumerate(expected)]
    tolerance = _number(document.get("tolerance", DEFAULT_TOLERANCE), f"{path}: tolerance")
    if tolerance < 0:
        raise SelfTestFileError(f"{path}: tolerance is {tolerance!r}, not a number of zero or more")
    return SelfTest(parsed_rows, parsed_expected, tolerance)


def check(model: Model, selftest: SelfTest) -> Mismatch | None:
    """The first prediction of ``model`` for the self-test's rows that misses XGBoost's, or None."""
    predictions = model.predict(selftest.rows)
    for row, (actual, expected) in enumerate(zip(predictions, selftest.expected, strict=True)):
        if len(actual) != len(expected):
            raise SelfTestFileError(
                f"expected[{row}] has {len(expected)} values, the model predicts {len(actual)} per row"
            )
        for output, (got, want) in enumerate(zip(actual, expected, strict=True)):
            if not abs(got - want) <= selftest.tolerance:  # also when either is NaN
                return Mismatch(row, output, want, got, selftest.tolerance)
    return None


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SelfTestFileError(f"{where} is {_shown(value)}, not a list")
    return value


def _number(value: Any, where: str, what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SelfTestFileError(f"{where} is {_shown(value)}, not {what}")
    return float(value)


def _feature(value: Any, where: str) -> float:
    """A feature value as the model reads it: NaN for a missing one (null)."""
    return math.nan if value is None else _number(value, where, "a number or null")


def _outputs(value: Any, where: str) -> list[float]:
    if isinstance(value, list):
        return [_number(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return [_number(value, where)]


def _shown(value: Any) -> str:
    return "missing" if value is None else json.dumps(value)[:60]
