"""CloudWatch metric math, as far as the local cloud evaluates it for alarms.

An expression is parsed (no ``eval``) into a tree, checked against the kinds of the ids it names
(every id a time series, or what its own expression gives), and evaluated over one alarm window:
a time series maps each period's start to a value, and a period with no value has no key.

Grammar, loosest binding first (function names and ``AND``/``OR`` are upper case, ids start
with a lower-case letter)::

    expression := conjunction (("OR" | "||") conjunction)*
    conjunction := comparison (("AND" | "&&") comparison)*
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)*
    sum := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary := "-" unary | power
    power := primary ("^" unary)?
    primary := number | id | FUNCTION "(" expression ("," expression)* ")"
             | "(" expression ")" | "[" expression ("," expression)* "]"

Functions: ABS, CEIL, FLOOR, FILL(ts, scalar | ts), IF(condition, value[, value]),
MAX, MIN, SUM and AVG of an array ``[ts, ...]``, PERIOD(metric id).

Values follow CloudWatch's documentation: between two time series, a value missing from one
counts as 0; a division by zero gives no value (the point is dropped); comparisons and AND/OR
give 1 or 0; IF keeps the points of its condition, takes 0 for a true point missing from its
first value and drops a false point missing from its second; FILL gives every period of the
window a value. Anything else CloudWatch offers (METRICS, SEARCH, ANOMALY_DETECTION_BAND, LOG,
RATE, FILL with REPEAT or LINEAR, MAX of a single time series...) is refused by name.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

Series = dict[datetime, float]
"""A time series over one alarm window: each period's start with its value, if it has one."""
Value = float | Series | list[Series]
Kind = Literal["scalar", "series", "array"]

SUPPORTED_FUNCTIONS = ("ABS", "AVG", "CEIL", "FILL", "FLOOR", "IF", "MAX", "MIN", "PERIOD", "SUM")

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<string>\"[^\"]*\")"
    r"|(?P<operator>\|\||&&|==|!=|<=|>=|[-+*/^<>(),\[\]]))"
)
_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_LOGICAL = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR"}


class MetricMathError(ValueError):
    """An expression the local cloud cannot evaluate; ``token`` is the part at fault."""

    def __init__(self, token: str, why: str) -> None:
        super().__init__(f"{token!r}: {why}")
        self.token = token
        self.why = why


class UnsupportedExpressionError(MetricMathError):
    """Valid metric math that the local cloud does not evaluate."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]


Node = Number | Ref | Negate | Binary | Call | Array


@cache
def parse(text: str) -> Node:
    """The tree of ``text``; raises MetricMathError on what is not metric math the local cloud knows."""
    return _Parser(_tokens(text)).whole()


def ids(node: Node) -> set[str]:
    """The ids that ``node`` names."""
    if isinstance(node, Ref):
        return {node.id}
    return set().union(*(ids(child) for child in _children(node)))


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Negate):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Array):
        return node.items
    return ()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise MetricMathError(text[position:].strip()[0], "not a character of metric math")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._next = 0

    def whole(self) -> Node:
        node = self._expression()
        if self._peek():
            raise MetricMathError(self._peek(), "unexpected token")
        return node

    def _peek(self) -> str:
        return self._tokens[self._next][1] if self._next < len(self._tokens) else ""

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self._next >= len(self._tokens):
            last = self._tokens[-1][1] if self._tokens else ""
            raise MetricMathError(last, "the expression ends too soon after it")
        token = self._tokens[self._next]
        if expected is not None and token[1] != expected:
            raise MetricMathError(token[1], f"expected {expected!r}")
        self._next += 1
        return token

    def _left_associative(self, operators: Sequence[str], operand: Callable[[], Node]) -> Node:
        node = operand()
        while self._peek() in operators:
            symbol = self._take()[1]
            node = Binary(_LOGICAL.get(symbol, symbol), node, operand())
        return node

    def _expression(self) -> Node:
        return self._left_associative(("OR", "||"), self._conjunction)

    def _conjunction(self) -> Node:
        return self._left_associative(("AND", "&&"), self._comparison)

    def _comparison(self) -> Node:
        return self._left_associative(_COMPARISONS, self._sum)

    def _sum(self) -> Node:
        return self._left_associative(("+", "-"), self._product)

    def _product(self) -> Node:
        return self._left_associative(("*", "/"), self._unary)

    def _unary(self) -> Node:
        if self._peek() == "-":
            self._take()
            return Negate(self._unary())
        base = self._primary()
        if self._peek() == "^":
            self._take()
            return Binary("^", base, self._unary())
        return base

    def _primary(self) -> Node:
        kind, text = self._take()
        if kind == "number":
            return Number(float(text))
        if kind == "string":
            raise UnsupportedExpressionError(text, 'the local cloud evaluates no strings (as in METRICS("..."))')
        if text in ("(", "["):
            items = self._list(")" if text == "(" else "]")
            if text == "[":
                return Array(items)
            if len(items) > 1:
                raise MetricMathError(",", "a parenthesised expression holds one expression")
            return items[0]
        if kind == "name" and _ID.fullmatch(text):
            return Ref(text)
        if kind == "name" and self._peek() == "(":
            return self._call(text)
        if kind == "name" and text.isupper() and text not in _LOGICAL:
            raise UnsupportedExpressionError(text, "not a keyword the local cloud evaluates")
        raise MetricMathError(text, "expected a number, an id, a function or a parenthesis")

    def _call(self, function: str) -> Node:
        if function not in SUPPORTED_FUNCTIONS:
            raise UnsupportedExpressionError(
                function, f"not a function the local cloud evaluates (it evaluates {', '.join(SUPPORTED_FUNCTIONS)})"
            )
        self._take("(")
        return Call(function, self._list(")"))

    def _list(self, closing: str) -> tuple[Node, ...]:
        items = [self._expression()]
        while self._peek() == ",":
            self._take()
            items.append(self._expression())
        self._take(closing)
        return tuple(items)


# Kinds: what each node gives, checked before anything is evaluated.


def kind_of(node: Node, kinds: Mapping[str, Kind], metrics: Sequence[str]) -> Kind:
    """What ``node`` gives, given the kind of each id (``metrics``: the ids that are metrics, not expressions)."""
    if isinstance(node, Number):
        return "scalar"
    if isinstance(node, Ref):
        if node.id not in kinds:
            raise MetricMathError(node.id, "no metric or expression has this id")
        return kinds[node.id]
    if isinstance(node, Negate):
        return kind_of(node.operand, kinds, metrics)
    if isinstance(node, Binary):
        return _binary_kind(node, kinds, metrics)
    if isinstance(node, Array):
        if any(kind_of(item, kinds, metrics) != "series" for item in node.items):
            raise MetricMathError("[", "an array holds time series only")
        return "array"
    return _call_kind(node, [kind_of(arg, kinds, metrics) for arg in node.args], metrics)


def _binary_kind(node: Binary, kinds: Mapping[str, Kind], metrics: Sequence[str]) -> Kind:
    left, right = kind_of(node.left, kinds, metrics), kind_of(node.right, kinds, metrics)
    if "array" in (left, right) and (node.operator not in _ARITHMETIC or left == right):
        raise UnsupportedExpressionError(node.operator, "the local cloud applies this to time series, not arrays")
    if "array" in (left, right):
        return "array"
    return "series" if "series" in (left, right) else "scalar"


def _call_kind(node: Call, args: list[Kind], metrics: Sequence[str]) -> Kind:
    function = node.function
    arity = {"FILL": (2, 2), "IF": (2, 3)}.get(function, (1, 1))
    if not arity[0] <= len(args) <= arity[1]:
        raise MetricMathError(function, f"takes {' to '.join(map(str, sorted(set(arity))))} arguments")
    if function == "PERIOD":
        if not (isinstance(node.args[0], Ref) and node.args[0].id in metrics):
            raise MetricMathError(function, "takes the id of a metric")
        return "scalar"
    if function == "FILL":
        if args[0] == "scalar" or args[1] == "array":
            raise MetricMathError(function, "fills a time series (or an array) with a number or a time series")
        return args[0]
    if function == "IF":
        return _if_kind(args)
    if function in _AGGREGATES:
        if args[0] != "array":
            raise UnsupportedExpressionError(
                function,
                "the local cloud takes it of an array [m1, m2] only: of one time series it is a number over "
                "everything CloudWatch fetches, which CloudWatch advises against in alarms",
            )
        return "series"
    return args[0]


def _if_kind(args: list[Kind]) -> Kind:
    if "array" in args:
        raise UnsupportedExpressionError("IF", "the local cloud applies IF to time series, not arrays")
    if args[0] == "scalar" and "scalar" in args[1:]:
        raise MetricMathError("IF", "with a number as its condition, IF chooses between time series")
    return "series"


# Evaluation over one window.


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
