"""Evaluating a checked expression over one alarm window, with CloudWatch's rules for missing values."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from localcloud.metric_math.syntax import Array, Binary, Call, Negate, Node, Number, Ref

Series = dict[datetime, float]
"""A time series over one alarm window: each period's start with its value, if it has one."""
Value = float | Series | list[Series]


@dataclass(frozen=True)
class Window:
    """What an expression is evaluated against: the periods' starts, each id's value, each metric's period."""

    starts: Sequence[datetime]
    value_of: Callable[[str], Value]
    periods: Mapping[str, int]


def evaluate(node: Node, window: Window) -> Value:
    """The value of a checked ``node`` over ``window``."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        return window.value_of(node.id)
    if isinstance(node, Negate):
        return _pointwise(operator.neg, evaluate(node.operand, window))
    if isinstance(node, Binary):
        return _combine(_OPERATORS[node.operator], evaluate(node.left, window), evaluate(node.right, window))
    if isinstance(node, Array):
        return [_series(evaluate(item, window)) for item in node.items]
    return _call(node, window)


def _call(node: Call, window: Window) -> Value:
    if node.function == "PERIOD":
        return float(window.periods[_ref(node.args[0])])
    args = [evaluate(arg, window) for arg in node.args]
    if node.function == "FILL":
        return _fill(args[0], args[1], window.starts)
    if node.function == "IF":
        return _if(args[0], args[1], args[2] if len(args) == 3 else None)
    if node.function in _AGGREGATES:
        return _aggregate(_AGGREGATES[node.function], _array(args[0]))
    return _pointwise(_ROUNDING[node.function], args[0])


def _ref(node: Node) -> str:
    assert isinstance(node, Ref)  # checked by kind_of
    return node.id


def _series(value: Value) -> Series:
    assert isinstance(value, dict)  # checked by kind_of
    return value


def _number(value: Value) -> float:
    assert isinstance(value, float)  # checked by kind_of
    return value


def _array(value: Value) -> list[Series]:
    assert isinstance(value, list)  # checked by kind_of
    return value


def _defined(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _scalar(value: float | None) -> float:
    return value if value is not None and _defined(value) else math.nan


def _dropping(values: Mapping[datetime, float | None]) -> Series:
    # + 0.0 turns -0.0 into 0.0
    return {start: value + 0.0 for start, value in values.items() if value is not None and _defined(value)}


def _pointwise(function: Callable[[float], float], value: Value) -> Value:
    if isinstance(value, list):
        return [_series(_pointwise(function, series)) for series in value]
    if isinstance(value, dict):
        return _dropping({start: float(function(point)) for start, point in value.items()})
    return float(function(value)) if _defined(value) else math.nan


def _combine(function: Callable[[float, float], float | None], left: Value, right: Value) -> Value:
    """``left`` and ``right`` combined point by point; between two time series, a missing value counts as 0."""
    if isinstance(left, list):
        return [_series(_combine(function, series, right)) for series in left]
    if isinstance(right, list):
        return [_series(_combine(function, left, series)) for series in right]
    if isinstance(left, dict) and isinstance(right, dict):
        starts = left.keys() | right.keys()
        return _dropping({start: function(left.get(start, 0.0), right.get(start, 0.0)) for start in starts})
    if isinstance(left, dict):
        return _dropping({start: _apply(function, point, _number(right)) for start, point in left.items()})
    if isinstance(right, dict):
        return _dropping({start: _apply(function, left, point) for start, point in right.items()})
    return _scalar(_apply(function, left, right))


def _apply(function: Callable[[float, float], float | None], left: float, right: float) -> float | None:
    return function(left, right) if _defined(left) and _defined(right) else None


def _divide(left: float, right: float) -> float | None:
    return None if right == 0 else left / right


def _power(left: float, right: float) -> float | None:
    try:
        result = left**right
    except (ZeroDivisionError, OverflowError):
        return None
    return result if isinstance(result, float | int) else None


def _truth(function: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    return lambda left, right: 1.0 if function(left, right) else 0.0


_ARITHMETIC: dict[str, Callable[[float, float], float | None]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    "^": _power,
}
_OPERATORS: dict[str, Callable[[float, float], float | None]] = {
    **_ARITHMETIC,
    "==": _truth(operator.eq),
    "!=": _truth(operator.ne),
    "<": _truth(operator.lt),
    "<=": _truth(operator.le),
    ">": _truth(operator.gt),
    ">=": _truth(operator.ge),
    "AND": _truth(lambda left, right: bool(left) and bool(right)),
    "OR": _truth(lambda left, right: bool(left) or bool(right)),
}
_ROUNDING: dict[str, Callable[[float], float]] = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor}
_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "MAX": max,
    "MIN": min,
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
}


def _fill(value: Value, filler: Value, starts: Sequence[datetime]) -> Value:
    if isinstance(value, list):
        return [_series(_fill(series, filler, starts)) for series in value]
    series = _series(value)
    if isinstance(filler, dict):
        return _dropping({start: series.get(start, filler.get(start)) for start in starts})
    return _dropping({start: series.get(start, _number(filler)) for start in starts})


def _if(condition: Value, when_true: Value, when_false: Value | None) -> Value:
    if isinstance(condition, float):
        chosen = when_true if _defined(condition) and condition else when_false
        return {} if chosen is None else chosen
    return _dropping(
        {
            start: _choose(when_true, start, 0.0) if point else _choose(when_false, start, None)
            for start, point in _series(condition).items()
        }
    )


def _choose(value: Value | None, start: datetime, missing: float | None) -> float | None:
    if isinstance(value, dict):
        return value.get(start, missing)
    return value if isinstance(value, float) else None


def _aggregate(function: Callable[[list[float]], float], array: list[Series]) -> Series:
    starts = set().union(*(series.keys() for series in array))
    return _dropping({start: function([series.get(start, 0.0) for series in array]) for start in starts})
