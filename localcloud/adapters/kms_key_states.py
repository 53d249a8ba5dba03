"""Gap: moto's KMS fails on a key named by its ARN in EnableKey, DisableKey, ScheduleKeyDeletion and
CancelKeyDeletion, and lets any of them change a key in any state.

AWS takes a key ID or a key ARN in each (a remediation usually has the ARN, from the event's
``resources``); moto looks the ARN up as an ID and fails with an unhandled KeyError. AWS refuses,
with KMSInvalidStateException, to enable, disable or schedule the deletion of a key pending
deletion, and to cancel the deletion of one that is not pending deletion; moto does each. Fix: the
key is resolved from an ID or an ARN, the key-state rules of the AWS KMS developer guide's "Key
states" table are applied, and CancelKeyDeletion and ScheduleKeyDeletion answer with the key's
ARN, its new state and the waiting period, as AWS does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend
from moto.kms.responses import KmsResponse

if TYPE_CHECKING:
    from localcloud.interface import Cloud

PENDING = "PendingDeletion"


class KMSInvalidStateError(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("KMSInvalidStateException", message)


def _key(backend: KmsBackend, key_id: str) -> Any:
    return backend.keys[backend.get_key_id(key_id)]


def _refuse_pending(backend: KmsBackend, key_id: str) -> str:
    key = _key(backend, key_id)
    if key.key_state == PENDING:
        raise KMSInvalidStateError(f"{key.arn} is pending deletion.")
    return str(key.id)


def _enable_key(original: Any) -> Any:
    def enable_key(backend: KmsBackend, key_id: str) -> None:
        original(backend, _refuse_pending(backend, key_id))

    return enable_key


def _disable_key(original: Any) -> Any:
    def disable_key(backend: KmsBackend, key_id: str) -> None:
        original(backend, _refuse_pending(backend, key_id))

    return disable_key


def _schedule_key_deletion(original: Any) -> Any:
    def schedule_key_deletion(backend: KmsBackend, key_id: str, pending_window_in_days: int) -> Any:
        return original(backend, _refuse_pending(backend, key_id), pending_window_in_days)

    return schedule_key_deletion


def _cancel_key_deletion(original: Any) -> Any:
    def cancel_key_deletion(backend: KmsBackend, key_id: str) -> None:
        key = _key(backend, key_id)
        if key.key_state != PENDING:
            raise KMSInvalidStateError(f"{key.arn} is not pending deletion.")
        original(backend, key.id)

    return cancel_key_deletion


def cancel_key_deletion_response(response: KmsResponse) -> str:
    key_id = response._get_param("KeyId")
    response._validate_cmk_id(key_id)
    response.kms_backend.cancel_key_deletion(key_id)
    return json.dumps({"KeyId": _key(response.kms_backend, key_id).arn})


def schedule_key_deletion_response(response: KmsResponse) -> str:
    key_id = response._get_param("KeyId")
    window = int(response._get_param("PendingWindowInDays") or 30)
    response._validate_cmk_id(key_id)
    deletion_date = response.kms_backend.schedule_key_deletion(key_id, window)
    key = _key(response.kms_backend, key_id)
    return json.dumps(
        {"KeyId": key.arn, "DeletionDate": deletion_date, "KeyState": key.key_state, "PendingWindowInDays": window}
    )


@contextmanager
def kms_key_states(cloud: Cloud) -> Iterator[None]:
    with ExitStack() as stack:
        for name, wrap in (
            ("enable_key", _enable_key),
            ("disable_key", _disable_key),
            ("schedule_key_deletion", _schedule_key_deletion),
            ("cancel_key_deletion", _cancel_key_deletion),
        ):
            stack.enter_context(mock.patch.object(KmsBackend, name, wrap(getattr(KmsBackend, name))))
        stack.enter_context(mock.patch.object(KmsResponse, "cancel_key_deletion", cancel_key_deletion_response))
        stack.enter_context(mock.patch.object(KmsResponse, "schedule_key_deletion", schedule_key_deletion_response))
        yield
