"""What each part of an expression gives (a number, a time series or an array of them), checked before evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from localcloud.metric_math.syntax import (
    AGGREGATES,
    ARITHMETIC,
    Array,
    Binary,
    Call,
    MetricMathError,
    Negate,
    Node,
    Number,
    Ref,
    UnsupportedExpressionError,
)

Kind = Literal["scalar", "series", "array"]


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
    if "array" in (left, right) and (node.operator not in ARITHMETIC or left == right):
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
    if function in AGGREGATES:
        if args[0] != "array":
            raise UnsupportedExpressionError(
                function,
                f"of one time series (one number over all CloudWatch fetches, which it advises against in alarms) "
                f"it is not evaluated locally; {function}([m1, m2]) is",
            )
        return "series"
    return args[0]


def _if_kind(args: list[Kind]) -> Kind:
    if "array" in args:
        raise UnsupportedExpressionError("IF", "the local cloud applies IF to time series, not arrays")
    if args[0] == "scalar" and "scalar" in args[1:]:
        raise MetricMathError("IF", "with a number as its condition, IF chooses between time series")
    return "series"
