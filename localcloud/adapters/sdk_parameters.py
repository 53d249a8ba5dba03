"""Gap: moto passes aws-sdk and ``states`` task parameters to boto3 without converting their case.

State machines write parameters in PascalCase (``TargetArn``); services whose API members are
camelCase (greengrassv2, iot, states: ``targetArn``) then receive keys boto3 silently drops.
Step Functions converts them by the service's model, and returns results in PascalCase. Fix:
the same conversion, both ways, from botocore's model of the operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

_session = botocore.session.get_session()


@cache
def operation_model(service: str, action: str) -> OperationModel:
    """botocore's model of ``service``'s operation whose snake_case name is ``action``."""
    model = _session.get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == action:
            return model.operation_model(name)
    raise KeyError(f"{service} has no operation {action}")


def _converting_parameters(original: Callable[..., None]) -> Callable[..., None]:
    def normalise(
        task: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(task, parameters, boto_service_name, service_action_name)
        operation = operation_model(
            task._get_boto_service_name(boto_service_name), task._get_boto_service_action(service_action_name)
        )
        if operation.input_shape is not None:
            task._to_boto_request(parameters, operation.input_shape)

    return normalise


def _converting_response(original: Callable[..., None]) -> Callable[..., None]:
    def normalise(
        task: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(task, response, boto_service_name, service_action_name)
        operation = operation_model(
            task._get_boto_service_name(boto_service_name), task._get_boto_service_action(service_action_name)
        )
        if operation.output_shape is not None:
            task._from_boto_response(response, operation.output_shape)

    return normalise


@contextmanager
def sdk_parameters(cloud: LocalCloud) -> Iterator[None]:
    with ExitStack() as stack:
        for task_class in (StateTaskServiceAwsSdk, StateTaskServiceSfn):
            stack.enter_context(
                mock.patch.object(
                    task_class,
                    "_normalise_parameters",
                    _converting_parameters(task_class._normalise_parameters),
                )
            )
            stack.enter_context(
                mock.patch.object(
                    task_class, "_normalise_response", _converting_response(task_class._normalise_response)
                )
            )
        yield
