"""Metric math's syntax: the tokens, the tree of an expression and the parser that builds it (no ``eval``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

ARITHMETIC = ("+", "-", "*", "/", "^")
AGGREGATES = ("MAX", "MIN", "SUM", "AVG")
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
