"""Gap: moto's Security Hub GetFindings ignores its Filters and returns every finding.

A responder that reads back its own finding (by ``Id``, or by ``GeneratorId`` and ``RecordState``)
gets all of them. Fix: the string filters of the AWS Security Hub API are applied before moto
pages the findings: ``EQUALS``, ``PREFIX``, ``CONTAINS`` (ORed within a field) and their negations
``NOT_EQUALS``, ``PREFIX_NOT_EQUALS``, ``NOT_CONTAINS`` (ANDed), every field ANDed. Fields: the
finding's identity (Id, ProductArn, GeneratorId, AwsAccountId), Type, Title, SeverityLabel,
RecordState, WorkflowStatus, ResourceId and ResourceType. Any other filter is refused with
InvalidInputException rather than ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.securityhub.exceptions import InvalidInputException
from moto.securityhub.models import SecurityHubBackend

if TYPE_CHECKING:
    from localcloud.interface import Cloud

FIELDS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "Id": lambda f: [f.get("Id", "")],
    "ProductArn": lambda f: [f.get("ProductArn", "")],
    "GeneratorId": lambda f: [f.get("GeneratorId", "")],
    "AwsAccountId": lambda f: [f.get("AwsAccountId", "")],
    "Type": lambda f: list(f.get("Types", [])),
    "Title": lambda f: [f.get("Title", "")],
    "SeverityLabel": lambda f: [f.get("Severity", {}).get("Label", "")],
    "RecordState": lambda f: [f.get("RecordState", "ACTIVE")],
    "WorkflowStatus": lambda f: [f.get("Workflow", {}).get("Status", "NEW")],
    "ResourceId": lambda f: [r.get("Id", "") for r in f.get("Resources", [])],
    "ResourceType": lambda f: [r.get("Type", "") for r in f.get("Resources", [])],
}
POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "EQUALS": lambda value, wanted: value == wanted,
    "PREFIX": lambda value, wanted: value.startswith(wanted),
    "CONTAINS": lambda value, wanted: wanted in value,
}
NEGATIVE = {"NOT_EQUALS": "EQUALS", "PREFIX_NOT_EQUALS": "PREFIX", "NOT_CONTAINS": "CONTAINS"}


def matches(finding: Mapping[str, Any], filters: Mapping[str, list[Mapping[str, str]]] | None) -> bool:
    """Whether ``finding`` passes Security Hub's string ``filters``."""
    for field, conditions in (filters or {}).items():
        if field not in FIELDS:
            raise InvalidInputException(op="GetFindings", msg=f"the local cloud cannot filter findings by {field}")
        values = FIELDS[field](finding)
        positive = [c for c in conditions if c.get("Comparison", "EQUALS") in POSITIVE]
        negative = [c for c in conditions if c.get("Comparison") in NEGATIVE]
        if positive and not any(
            POSITIVE[c.get("Comparison", "EQUALS")](v, c["Value"]) for c in positive for v in values
        ):
            return False
        if any(POSITIVE[NEGATIVE[c["Comparison"]]](v, c["Value"]) for c in negative for v in values):
            return False
    return True


@contextmanager
def securityhub_filters(cloud: Cloud) -> Iterator[None]:
    original = SecurityHubBackend.get_findings

    def get_findings(backend: SecurityHubBackend, filters: Any = None, **kwargs: Any) -> Any:
        everything = backend.findings
        backend.findings = [f for f in everything if matches(f.as_dict(), filters)]
        try:
            return original(backend, filters=None, **kwargs)
        finally:
            backend.findings = everything

    with mock.patch.object(SecurityHubBackend, "get_findings", get_findings):
        yield
