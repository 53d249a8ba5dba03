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

from localcloud.metric_math.kinds import Kind, kind_of
from localcloud.metric_math.syntax import (
    SUPPORTED_FUNCTIONS,
    MetricMathError,
    Node,
    UnsupportedExpressionError,
    ids,
    parse,
)
from localcloud.metric_math.values import Series, Value, Window, evaluate

__all__ = [
    "SUPPORTED_FUNCTIONS",
    "Kind",
    "MetricMathError",
    "Node",
    "Series",
    "UnsupportedExpressionError",
    "Value",
    "Window",
    "evaluate",
    "ids",
    "kind_of",
    "parse",
]
