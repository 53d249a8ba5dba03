"""Every request to the emulation is authorized as AWS would authorize it, before moto sees it.

Moto's own access control checks identity policies against ``*`` for most services, evaluates
almost no conditions and no resource policies. Instead, each botocore call is decided here from
its operation and parameters (:mod:`localcloud.iam.actions`) and the caller's credentials
(:class:`~localcloud.iam.authority.Authority`); a refusal is raised as the service would send it.
Step Functions' integrations call with credentials of the state machine's role (or the state's
``Credentials``), as on AWS. Moto's S3 also checks bucket policies on object requests by itself,
treating every condition as met (a TLS-only Deny then denies everything); since bucket policies
are decided here with their conditions, moto's own check is switched off.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from moto.stepfunctions.parser.asl.utils import boto_client

from localcloud.iam.actions import Actions, UnmodelledOperationError
from localcloud.iam.authority import Authority, DeniedError
from localcloud.iam.errors import error_code, refusal
from localcloud.iam.policy import UnsupportedConditionError

STATES = "states.amazonaws.com"


def decide(authority: Authority, actions: Actions, client: Any, operation_name: str, params: Any) -> None:
    """Raise the service's own error unless the client's principal may make this call."""
    credentials = client._request_signer._credentials
    access_key = credentials.get_frozen_credentials().access_key if credentials is not None else ""
    principal = authority.holder(access_key)
    if principal is None:
        message = f"The security token included in the request is invalid (access key {access_key!r})."
        raise refusal(client, operation_name, "UnrecognizedClientException", message)
    service = client.meta.service_model.service_name
    try:
        checks = actions.checks(service, operation_name, params)
    except UnmodelledOperationError as error:
        if principal.kind == "admin":
            return
        raise refusal(client, operation_name, "LocalCloudUnmodelledOperation", str(error)) from None
    try:
        authority.authorize(principal, checks)
    except DeniedError as denied:
        raise refusal(client, operation_name, error_code(service, denied.reason), str(denied)) from None
    except UnsupportedConditionError as error:
        raise refusal(client, operation_name, "LocalCloudUnsupportedCondition", str(error)) from None


def _decided_already(bucket: Any, action: str, resource: str) -> Any:
    return PermissionResult.NEUTRAL


def _state_machine_client(authority: Authority) -> Callable[..., Any]:
    # A role's session is kept (Authority.assume_role), so is its client: making one took about
    # 10 ms, for every task of every execution.
    clients: dict[tuple[str, str, str], Any] = {}

    def client(region: str, service: str, arguments: dict[str, Any]) -> Any:
        return boto3.client(
            service,
            region_name=region,
            config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
            **arguments,
        )

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        if not role:
            return client(region, service, {})
        key = (region, service, role)
        if key not in clients:
            clients[key] = client(region, service, authority.assume_role(role, service=STATES).as_client_arguments())
        return clients[key]

    return client_for


@contextmanager
def enforcing(authority: Authority, actions: Actions) -> Iterator[None]:
    """Authorize every request while the context lasts."""
    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, params: Any) -> Any:
        decide(authority, actions, client, operation_name, params)
        return original(client, operation_name, params)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(BaseClient, "_make_api_call", make_api_call))
        stack.enter_context(mock.patch.object(FakeBucket, "get_permission", _decided_already))
        # Modules that imported moto's client factory by name get the one that signs as the role.
        replacement = _state_machine_client(authority)
        factory = boto_client.boto_client_for
        stack.enter_context(mock.patch.object(boto_client, "boto_client_for", replacement))
        for module in list(sys.modules.values()):
            if getattr(module, "boto_client_for", None) is factory:
                stack.enter_context(mock.patch.object(module, "boto_client_for", replacement))
        yield
