"""IAM policy documents, evaluated as AWS evaluates them, for the operators and keys the stack uses.

A condition operator or key this module cannot evaluate raises :class:`UnsupportedConditionError`:
it is never treated as met (nor as unmet). :func:`unsupported_conditions` finds them in a
document ahead of time, so the local cloud can refuse a template before deploying it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class UnsupportedConditionError(Exception):
    """A policy uses a condition operator or key that the local cloud cannot evaluate."""


class Effect(Enum):
    """What a policy says about a request: nothing, allow, or deny."""

    NEUTRAL = "Neutral"
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role session, an IAM user, a service, or the administrator.

    ``arn`` is the role's, user's or account root's ARN (never the session ARN, which
    :attr:`session_arn` holds), or the service principal's name for services.
    """

    kind: str  # "role", "user", "service" or "admin"
    arn: str
    account_id: str
    session_arn: str = ""
    source_arn: str = ""
    """For a service acting for a resource of the stack: that resource (``aws:SourceArn``)."""
    assumed_by: str = ""
    """For a role session: the service that assumed the role (``lambda.amazonaws.com``), if one did."""
    issued_at: str = ""
    """For a role session: when it was issued (ISO 8601, stack time)."""

    @property
    def display(self) -> str:
        """The principal as AWS names it in access-denied messages."""
        return self.session_arn or self.arn


@dataclass(frozen=True)
class Check:
    """One authorization request: ``action`` on ``resource`` with its request context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


class PrincipalMatch(Enum):
    """How a resource policy's Principal element covers a caller."""

    NONE = 0
    ACCOUNT = 1  # the account root: the account's own IAM policies decide
    DIRECT = 2  # the caller itself (or everyone): the statement grants by itself


@dataclass(frozen=True)
class ResourceDecision:
    """What a resource policy says: deny, or allow directly, or allow to the account."""

    deny: bool = False
    allow: bool = False
    allow_account: bool = False


# Condition keys the local cloud sets in request contexts. Any other key is refused.
KNOWN_KEYS = frozenset(
    {
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOwner",
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalType",
        "aws:PrincipalServiceName",
        "aws:ViaAWSService",
        "iam:PassedToService",
        "iam:AWSServiceName",
        "application-autoscaling:service-namespace",
        "application-autoscaling:scalable-dimension",
        "cloudwatch:namespace",
        "kms:ViaService",
        "kms:CallerAccount",
        "s3:prefix",
        "s3:x-amz-acl",
        "dynamodb:LeadingKeys",
        "sts:ExternalId",
    }
)
KNOWN_KEY_PREFIXES = ("kms:EncryptionContext:",)
# Condition keys are case-insensitive; request contexts are looked up in lower case.
_KNOWN_KEYS = frozenset(key.lower() for key in KNOWN_KEYS)
_KNOWN_KEY_PREFIXES = tuple(prefix.lower() for prefix in KNOWN_KEY_PREFIXES)

_STRING = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"}
_LIKE = {"StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
_NUMERIC = {
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
OPERATORS = frozenset(_STRING | _LIKE | _NUMERIC | {"Bool", "Null"})


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The statements of a policy document (a single statement may stand alone).

    ``None`` entries, which moto's CloudFormation leaves where ``AWS::NoValue`` removed a
    statement, are skipped.
    """
    return [dict(s) for s in _as_list(document.get("Statement", [])) if s is not None]


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * is any run of characters, ? is one character; nothing else is special.
    regex = fnmatch.translate(pattern.replace("[", "\0")).replace("\0", r"\[")
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches an IAM pattern with ``*`` and ``?``."""
    return _wildcard(pattern, ignore_case).match(value) is not None


def _split_operator(raw: str) -> tuple[str, str, bool]:
    """(set qualifier, base operator, if-exists) of a condition operator such as ``ForAnyValue:StringLikeIfExists``."""
    qualifier, _, operator = raw.rpartition(":")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator.removesuffix("IfExists") if if_exists else operator
    return qualifier, base, if_exists


def _check_supported(raw_operator: str, key: str) -> None:
    qualifier, base, _ = _split_operator(raw_operator)
    if base not in OPERATORS or qualifier not in {"", "ForAnyValue", "ForAllValues"}:
        raise UnsupportedConditionError(f"the local cloud cannot evaluate the condition operator {raw_operator}")
    if key.lower() not in _KNOWN_KEYS and not key.lower().startswith(_KNOWN_KEY_PREFIXES):
        raise UnsupportedConditionError(f"the local cloud cannot evaluate the condition key {key}")


def unsupported_conditions(document: Mapping[str, Any]) -> list[str]:
    """Why each condition of ``document`` that the local cloud cannot evaluate is refused."""
    problems = []
    for statement in statements(document):
        for operator, entries in statement.get("Condition", {}).items():
            for key in entries:
                try:
                    _check_supported(operator, key)
                except UnsupportedConditionError as error:
                    problems.append(str(error))
    return problems


def _value_matches(base: str, expected: str, actual: str) -> bool:
    if base in {"StringEquals", "StringNotEquals"}:
        return expected == actual
    if base in {"StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"}:
        return expected.lower() == actual.lower()
    # StringLike, StringNotLike and every Arn operator take wildcards.
    return wildcard_match(expected, actual)


def _numeric(base: str, expected: str, actual: str) -> bool:
    a, e = float(actual), float(expected)
    return {
        "NumericEquals": a == e,
        "NumericNotEquals": a != e,
        "NumericLessThan": a < e,
        "NumericLessThanEquals": a <= e,
        "NumericGreaterThan": a > e,
        "NumericGreaterThanEquals": a >= e,
    }[base]


def _condition_holds(raw_operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    _check_supported(raw_operator, key)
    qualifier, base, if_exists = _split_operator(raw_operator)
    expected_values = [str(v) for v in _as_list(expected)]
    context = {name.lower(): value for name, value in context.items()}
    key = key.lower()
    if base == "Null":
        absent = key not in context
        return any((v.lower() == "true") == absent for v in expected_values)
    if key not in context:
        # A missing key fails every operator, except negated ones and the IfExists forms.
        return if_exists or "Not" in base or qualifier == "ForAllValues"
    actual_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(context[key])]
    negated = "Not" in base

    def one(actual: str) -> bool:
        if base == "Bool":
            return any(v.lower() == actual.lower() for v in expected_values)
        if base in _NUMERIC:
            return (
                _numeric(base, expected_values[0], actual)
                if len(expected_values) == 1
                else any(_numeric(base, v, actual) for v in expected_values)
            )
        hit = any(_value_matches(base, v, actual) for v in expected_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(a) for a in actual_values)
    if negated and qualifier == "":
        return all(one(a) for a in actual_values)
    return any(one(a) for a in actual_values)


def conditions_hold(statement: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Whether every condition of ``statement`` holds in ``context`` (conditions are ANDed)."""
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, entries in statement.get("Condition", {}).items()
        for key, expected in entries.items()
    )


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement["NotAction"]))
    return any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement.get("Action", [])))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:  # resource policies may leave it out: the resource itself
        return True
    return any(wildcard_match(p, resource) for p in _as_list(statement["Resource"]))


def _applies(statement: Mapping[str, Any], check: Check) -> bool:
    return _action_matches(statement, check.action) and _resource_matches(statement, check.resource)


def identity_effect(documents: Sequence[Mapping[str, Any]], check: Check) -> Effect:
    """What identity-based policies say: an explicit deny wins over any allow."""
    effect = Effect.NEUTRAL
    for statement in _all_statements(documents):
        if _applies(statement, check) and conditions_hold(statement, check.context):
            if statement.get("Effect") == "Deny":
                return Effect.DENY
            effect = Effect.ALLOW
    return effect


def _all_statements(documents: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    for document in documents:
        yield from statements(document)


def principal_match(element: Any, principal: Principal) -> PrincipalMatch:
    """How a resource policy's Principal element covers ``principal``."""
    if element == "*":
        return PrincipalMatch.DIRECT
    best = PrincipalMatch.NONE
    for kind, values in dict(element).items():
        for value in _as_list(values):
            if kind == "Service" and principal.kind == "service" and value == principal.arn:
                return PrincipalMatch.DIRECT
            if kind == "AWS" and value == "*":  # the same as Principal "*": services included
                return PrincipalMatch.DIRECT
            if kind != "AWS" or principal.kind == "service":
                continue
            if value in {principal.arn, principal.session_arn}:
                return PrincipalMatch.DIRECT
            if value in {principal.account_id, f"arn:aws:iam::{principal.account_id}:root"}:
                best = PrincipalMatch.ACCOUNT
    return best


def resource_decision(document: Mapping[str, Any] | None, principal: Principal, check: Check) -> ResourceDecision:
    """What a resource-based policy says about ``principal`` making ``check``."""
    if not document:
        return ResourceDecision()
    deny = allow = allow_account = False
    for statement in statements(document):
        if not _applies(statement, check):
            continue
        if "NotPrincipal" in statement:
            covered = principal_match(statement["NotPrincipal"], principal) is PrincipalMatch.NONE
            match = PrincipalMatch.DIRECT if covered else PrincipalMatch.NONE
        else:
            match = principal_match(statement.get("Principal", {}), principal)
        if match is PrincipalMatch.NONE or not conditions_hold(statement, check.context):
            continue
        if statement.get("Effect") == "Deny":
            deny = True
        elif match is PrincipalMatch.DIRECT:
            allow = True
        else:
            allow_account = True
    return ResourceDecision(deny=deny, allow=allow, allow_account=allow_account)
