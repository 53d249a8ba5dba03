"""Gap: moto passes aws-sdk and ``states`` task parameters to boto3 without converting their case.

State machines write parameters in PascalCase (``TargetArn``); services whose API members are
camelCase (greengrassv2, iot, states: ``targetArn``) then receive keys boto3 silently drops.
Step Functions converts them by the service's model, and returns results in PascalCase. Fix:
the same conversion, both ways, from botocore's model of the operation.

The conversion is exact, as Step Functions' is: a parameter is the API member's name with its
first letter in upper case (``Bucket``, ``TargetArn``), never ``bucket``. Step Functions checks
aws-sdk parameters against the API when the state machine is created and refuses a field the
API does not have; moto accepts any. Fix: the same check on creation, which fails with
``InvalidDefinition`` and ``SCHEMA_VALIDATION_FAILED`` naming the field and where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.session
from botocore import xform_name
from botocore.exceptions import ParamValidationError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

if TYPE_CHECKING:
    from localcloud.interface import Cloud

_session = botocore.session.get_session()


@cache
def operation_model(service: str, action: str) -> OperationModel:
    """botocore's model of ``service``'s operation whose snake_case name is ``action``."""
    model = _session.get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == action:
            return model.operation_model(name)
    raise KeyError(f"{service} has no operation {action}")


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def to_boto(value: Any, shape: Shape | None) -> Any:
    """A state's parameter value with keys in the API's own case, by the shape it fills."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {_pascal(name): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            if key not in members:
                raise ParamValidationError(report=f"The field {key!r} is not supported by Step Functions")
            converted[members[key]] = to_boto(item, shape.members[members[key]])
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


_TASK = re.compile(r"^arn:aws:states:::(?P<sdk>aws-sdk:)?(?P<service>[a-z0-9-]+):(?P<action>\w+)(\.\w+)?$")
_SERVICE_NAMES = {"sfn": "stepfunctions", "states": "stepfunctions"}


def unsupported_fields(definition: dict[str, Any]) -> list[str]:
    """Each aws-sdk (or ``states``) task parameter that its API has no member for, and where."""
    problems: list[str] = []
    for where, state in _tasks(definition.get("States", {}), "/States"):
        match = _TASK.match(str(state.get("Resource", "")))
        if match is None or (not match["sdk"] and match["service"] != "states"):
            continue
        service = _SERVICE_NAMES.get(match["service"], match["service"])
        try:
            operation = operation_model(service, xform_name(match["action"]))
        except KeyError:
            problems.append(f"The resource {state['Resource']} is not supported by Step Functions at {where}")
            continue
        problems += _fields(state.get("Parameters", {}), operation.input_shape, f"{where}/Parameters")
    return problems


def _tasks(states: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield f"{where}/{name}", state
        for index, branch in enumerate(state.get("Branches", [])):
            yield from _tasks(branch.get("States", {}), f"{where}/{name}/Branches[{index}]/States")
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        yield from _tasks(processor.get("States", {}), f"{where}/{name}/ItemProcessor/States")


def _fields(value: Any, shape: Shape | None, where: str) -> list[str]:
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _fields(item, shape.member, f"{where}[{i}]")]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return [
            p for key, item in value.items() for p in _fields(item, shape.value, f"{where}/{key.removesuffix('.$')}")
        ]
    if not isinstance(shape, StructureShape) or not isinstance(value, dict):
        return []
    members = {_pascal(name): name for name in shape.members}
    problems = []
    for key, item in value.items():
        name = key.removesuffix(".$")
        if name not in members:
            problems.append(f'The field "{name}" is not supported by Step Functions at {where}')
        elif not key.endswith(".$"):  # a path or intrinsic is only known when the state runs
            problems += _fields(item, shape.members[members[name]], f"{where}/{name}")
    return problems


def _validating(original: Callable[..., None]) -> Callable[..., None]:
    def validate_definition(definition: str) -> None:
        original(definition=definition)
        problems = unsupported_fields(json.loads(definition))
        if problems:
            # Moto's own InvalidDefinition reaches clients without its code; this one keeps it.
            raise JsonRESTError("InvalidDefinition", "SCHEMA_VALIDATION_FAILED: " + "; ".join(problems))

    return validate_definition


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
def sdk_parameters(cloud: Cloud) -> Iterator[None]:
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(
                StepFunctionsParserBackend,
                "_validate_definition",
                staticmethod(_validating(StepFunctionsParserBackend._validate_definition)),
            )
        )
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
