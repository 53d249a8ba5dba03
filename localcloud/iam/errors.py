"""Refusals in the wire format of each service's own protocol, parsed by botocore as AWS's are.

A denied request never reaches moto. The client gets the error a real endpoint would send
(JSON ``AccessDeniedException`` from JSON services, XML ``AccessDenied`` from S3,
``AuthorizationError`` from SNS), through the same parser, so a handler's ``except`` clauses
and a state machine's Catch see what they would see on AWS.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from xml.sax.saxutils import escape

from botocore.exceptions import ClientError
from botocore.parsers import create_parser

# Error codes by service where AWS does not say AccessDeniedException.
ACCESS_DENIED = {
    "s3": "AccessDenied",
    "sns": "AuthorizationError",
    "sqs": "AccessDenied",
    "iam": "AccessDenied",
    "sts": "AccessDenied",
}
KEY_DISABLED = {
    "kms": "DisabledException",
    "s3": "KMS.DisabledException",
    "sqs": "KMS.DisabledException",
    "sns": "KMSDisabled",
    "dynamodb": "KMSAccessDeniedException",
}
KEY_INVALID_STATE = {
    "kms": "KMSInvalidStateException",
    "s3": "KMS.KMSInvalidStateException",
    "sqs": "KMS.KMSInvalidStateException",
    "sns": "KMSInvalidState",
    "dynamodb": "KMSAccessDeniedException",
}


def error_code(service: str, reason: str) -> str:
    """The code ``service`` answers with for a refusal of kind ``reason``."""
    if reason == "Disabled":
        return KEY_DISABLED.get(service, "KMSAccessDeniedException")
    if reason == "PendingDeletion":
        return KEY_INVALID_STATE.get(service, "KMSAccessDeniedException")
    return ACCESS_DENIED.get(service, "AccessDeniedException")


def refusal(client: Any, operation_name: str, code: str, message: str) -> ClientError:
    """The ClientError ``client`` raises when its service refuses ``operation_name`` with ``code``."""
    model = client.meta.service_model
    protocol = model.protocol
    status = 403 if code in {"AccessDenied", "AuthorizationError", "AccessDeniedException"} else 400
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-requestid": request_id}
    if protocol == "rest-xml":
        body = (
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    elif protocol in {"query", "ec2"}:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        body = _cbor_text_map({"__type": code, "message": message})
    elif protocol == "rest-json":
        headers["x-amzn-errortype"] = code
        body = json.dumps({"message": message}).encode()
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
    parser = create_parser(protocol)
    operation = model.operation_model(operation_name)
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, operation.output_shape)
    error_class = client.exceptions.from_code(parsed.get("Error", {}).get("Code", code))
    error: ClientError = error_class(parsed, operation_name)
    return error


def _cbor_text_map(entries: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949, major types 5 and 3)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 256:
            return bytes([major << 5 | 24, length])
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")

    out = head(5, len(entries))
    for key, value in entries.items():
        for text in (key.encode(), value.encode()):
            out += head(3, len(text)) + text
    return out
