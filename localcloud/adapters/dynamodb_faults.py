"""Gap: moto's DynamoDB never throttles a request and never cancels a transaction for a conflict.

On AWS a request can be refused with ``ProvisionedThroughputExceededException`` (an on-demand
table too, on a hot partition or a sudden peak), and a ``TransactWriteItems`` can be cancelled
because another request was changing one of its items at that moment
(``TransactionCanceledException`` with a ``TransactionConflict`` reason); neither changes
anything. The SDK's standard retry mode retries the first; the second is the caller's to retry.
Moto applies every request. Fix: in the at-least-once mode (:mod:`localcloud.delivery`), a share
of the requests the stack's own principals make (not the administrator's: tests and tools) is
refused with one of those errors before moto sees it, in DynamoDB's wire format. The SDK's retry
back-off runs on the cloud's scaled clock, as every retry back-off in the local cloud does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.endpoint
from moto.core.botocore_stubber import BotocoreStubber

from localcloud.clock import ScaledTime
from localcloud.delivery import channel
from localcloud.iam import ADMIN_ACCESS_KEY

if TYPE_CHECKING:
    from localcloud.delivery import AtLeastOnce
    from localcloud.interface import Cloud

TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_TYPE = "com.amazonaws.dynamodb.v20120810#"
THROTTLED = (
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API.",
)


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name) or ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _access_key(request: Any) -> str:
    """The access key a SigV4-signed request was signed with."""
    _, _, credential = _header(request, "Authorization").partition("Credential=")
    return credential.split("/", 1)[0]


def _error(error_type: str, message: str, **extra: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-amzn-requestid": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.0"}
    body = {"__type": _ERROR_TYPE + error_type, "message": message, **extra}
    return 400, headers, json.dumps(body).encode()


def _conflict(request: Any, conflicting: int) -> tuple[int, dict[str, str], bytes]:
    body = json.loads(request.body or b"{}")
    reasons: list[dict[str, str]] = [{"Code": "None"} for _ in body.get("TransactItems", [])] or [{"Code": "None"}]
    conflicting %= len(reasons)
    reasons[conflicting] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    codes = ", ".join(reason["Code"] for reason in reasons)
    message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    return _error("TransactionCanceledException", message, CancellationReasons=reasons)


def _faulty(cloud: Cloud, mode: AtLeastOnce, original: Callable[..., Any]) -> Callable[..., Any]:
    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        target = _header(request, "X-Amz-Target")
        if not target.startswith(TARGET_PREFIX) or _access_key(request) == ADMIN_ACCESS_KEY:
            return original(stubber, request)
        operation = target.removeprefix(TARGET_PREFIX)
        principal = cloud.authority.holder(_access_key(request))
        name = channel(cloud.physical_ids, "dynamodb", principal.arn if principal else "unknown", operation)
        deliveries = cloud.deliveries
        if deliveries.fails(f"{name}:throttle", mode.throttle_rate):
            return _error(*THROTTLED)
        if operation == "TransactWriteItems" and deliveries.fails(f"{name}:conflict", mode.conflict_rate):
            return _conflict(request, deliveries.draw(f"{name}:conflicting").randrange(100))
        return original(stubber, request)

    return process_request


@contextmanager
def dynamodb_faults(cloud: Cloud) -> Iterator[None]:
    if cloud.deliveries.mode is None:
        yield
        return
    process_request = _faulty(cloud, cloud.deliveries.mode, BotocoreStubber.process_request)
    with (
        mock.patch.object(BotocoreStubber, "process_request", process_request),
        mock.patch.object(botocore.endpoint, "time", ScaledTime(cloud.clock)),
    ):
        yield
