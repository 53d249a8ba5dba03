"""Gap: moto's S3 treats every bucket-policy condition as met.

A TLS-only policy (Deny when ``aws:SecureTransport`` is ``false``) then denies every request,
although every request to the local cloud arrives as HTTPS. Fix: before moto evaluates a
bucket policy, settle the ``aws:SecureTransport`` conditions it cannot read: a statement whose
condition does not hold for an HTTPS request is dropped, one whose condition holds keeps
applying. Statements with other conditions are left to moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

SECURE_TRANSPORT = "aws:SecureTransport"


def applies_to_https(statement: dict[str, Any]) -> bool:
    """Whether ``statement`` applies to a request made over TLS, as far as SecureTransport goes."""
    for operator, conditions in statement.get("Condition", {}).items():
        if operator == "Bool" and SECURE_TRANSPORT in conditions:
            expected = conditions[SECURE_TRANSPORT]
            values = expected if isinstance(expected, list) else [expected]
            if "true" not in [str(v).lower() for v in values]:
                return False
    return True


def without_settled_conditions(statement: dict[str, Any]) -> dict[str, Any]:
    """``statement`` without the SecureTransport condition it was kept for."""
    conditions = {
        operator: {key: value for key, value in entries.items() if key != SECURE_TRANSPORT}
        for operator, entries in statement.get("Condition", {}).items()
    }
    conditions = {operator: entries for operator, entries in conditions.items() if entries}
    settled = {key: value for key, value in statement.items() if key != "Condition"}
    return {**settled, "Condition": conditions} if conditions else settled


def get_permission(bucket: Any, action: str, resource: str) -> Any:
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy.decode())
    policy["Statement"] = [
        without_settled_conditions(statement)
        for statement in policy.get("Statement", [])
        if applies_to_https(statement)
    ]
    if not policy["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


@contextmanager
def s3_secure_transport(cloud: LocalCloud) -> Iterator[None]:
    with mock.patch.object(FakeBucket, "get_permission", get_permission):
        yield
