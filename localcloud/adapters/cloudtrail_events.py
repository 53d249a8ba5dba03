"""Gap: moto has no CloudTrail delivery to EventBridge; no call ever raises "AWS API Call via CloudTrail".

On AWS, while a trail in the account is logging, every management call that changes something
reaches the default event bus as an "AWS API Call via CloudTrail" event, whoever made it and
whether it succeeded or was refused; rules match it like any other event. Moto keeps trails and
their logging status, but records no call. Fix: every request made in the local cloud (by tests,
handlers, state machines, services, and CloudFormation during a deploy) is recorded once it
returns, in CloudTrail's shape, and delivered to the rules of the default bus while a trail logs
management write events (:mod:`localcloud.cloudtrail`). StopLogging is itself recorded, then
nothing until StartLogging, which is recorded too. Read-only calls and data events are not
delivered, as AWS does not deliver them to rules by default. Calls made by a CloudFormation
deploy carry ``invokedBy`` ``cloudformation.amazonaws.com``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from localcloud.cloudtrail import LocalCloudTrail, recorded

if TYPE_CHECKING:
    from localcloud.interface import Cloud

STACK_OPERATIONS = frozenset({"CreateStack", "UpdateStack", "DeleteStack"})


@contextmanager
def cloudtrail_events(cloud: Cloud) -> Iterator[None]:
    trail = LocalCloudTrail(cloud.account_id, cloud.region, cloud.authority, cloud.clock.now)
    original = BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, params: Any) -> Any:
        service = client.meta.service_model.service_name
        if service == "cloudformation" and operation_name in STACK_OPERATIONS:
            with trail.deploying():
                return original(client, operation_name, params)
        if not recorded(service, operation_name, params):
            return original(client, operation_name, params)
        # A call that stops logging is recorded, and so is one that starts it.
        logging = trail.logging(service)
        try:
            response = original(client, operation_name, params)
        except ClientError as error:
            if logging or trail.logging(service):
                trail.record(client, operation_name, params, error=error)
            raise
        if logging or trail.logging(service):
            trail.record(client, operation_name, params, response=response)
        return response

    cloud.cloudtrail = trail
    with mock.patch.object(BaseClient, "_make_api_call", make_api_call):
        yield
