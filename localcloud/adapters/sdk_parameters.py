"""Gap: moto passes aws-sdk and ``states`` task parameters to boto3 without converting their case.

State machines write parameters in PascalCase (``TargetArn``); services whose API members are
camelCase (greengrassv2, iot, states: ``targetArn``) then receive keys boto3 silently drops.
Step Functions converts them by the service's model, and returns results in PascalCase. Fix:
the same conversion, both ways, from botocore's model of the operation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.session
from botocore import xform_name
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
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


def to_boto(value: Any, shape: Shape | None) -> Any:
    """A state's parameter value with keys in the API's own case, by the shape it fills."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            name = members.get(key.lower(), key)
            converted[name] = to_boto(item, shape.members.get(name))
        return converted
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_boto(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_boto(item, shape.value) for key, item in value.items()}
    if shape is not None and shape.type_name == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    if shape is not None and shape.type_name == "blob" and isinstance(value, str):
        return value.encode()
    return value


def to_sfn(value: Any, shape: Shape | None) -> Any:
    """An API result with member names in PascalCase, as Step Functions returns them."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {key[:1].upper() + key[1:]: to_sfn(item, shape.members.get(key)) for key, item in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [to_sfn(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: to_sfn(item, shape.value) for key, item in value.items()}
    return value


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
        converted = to_boto(parameters, operation.input_shape)
        parameters.clear()
        parameters.update(converted)

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
        if isinstance(response, dict):
            converted = to_sfn(response, operation.output_shape)
            response.clear()
            response.update(converted)

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
