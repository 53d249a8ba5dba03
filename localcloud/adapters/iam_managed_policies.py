"""Gap: moto knows no AWS managed policy unless it loads all of them into every account.

AttachRolePolicy with ``arn:aws:iam::aws:policy/AdministratorAccess`` (what an intruder attaches)
answers NoSuchEntity in moto, whose ``iam.load_aws_managed_policies`` setting would load the
thousand-odd policies into each new account (about half a second per local cloud). Fix: an AWS
managed policy is loaded from moto's own copy of them when a call first names it (attaching it to
a role, user or group, or reading it); the local cloud then evaluates it like any other policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend

if TYPE_CHECKING:
    from localcloud.interface import Cloud

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@cache
def _aws_policies() -> dict[str, dict[str, Any]]:
    policies: dict[str, dict[str, Any]] = json.loads(aws_managed_policies_data)
    return policies


def load(backend: IAMBackend, policy_arn: str) -> None:
    """Make the AWS managed policy ``policy_arn`` known to ``backend``, if AWS has one by that ARN."""
    if not policy_arn.startswith(AWS_POLICY_PREFIX) or policy_arn in backend.managed_policies:
        return
    name = policy_arn.rsplit("/", 1)[-1]
    data = _aws_policies().get(name)
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    if policy.arn == policy_arn:
        backend.managed_policies[policy.arn] = policy


def _loading(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(backend: IAMBackend, policy_arn: str, *args: Any) -> Any:
        load(backend, policy_arn)
        return original(backend, policy_arn, *args)

    return call


@contextmanager
def iam_managed_policies(cloud: Cloud) -> Iterator[None]:
    with ExitStack() as stack:
        for name in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy"):
            stack.enter_context(mock.patch.object(IAMBackend, name, _loading(getattr(IAMBackend, name))))
        stack.enter_context(
            mock.patch.object(IAMBackend, "get_policy_version", _loading(IAMBackend.get_policy_version))
        )
        yield
