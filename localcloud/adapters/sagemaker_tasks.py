"""Gap: moto's Step Functions has no SageMaker integration.

``arn:aws:states:::sagemaker:createTrainingJob.sync`` fails in moto ("Unsupported service"):
SageMaker is on its list of unsupported services. Fix: a SageMaker task that calls the API
with the state's parameters (request-response) and, for ``.sync`` on training jobs, polls
``DescribeTrainingJob`` until the job ends, as Step Functions does: Completed returns the
description; Failed or Stopped fail the task with ``States.TaskFailed`` and the description as
the cause. API errors are named ``SageMaker.<Code>Exception``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast
from unittest import mock

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

_sagemaker_model = botocore.session.get_session().get_service_model("sagemaker")

if TYPE_CHECKING:
    from localcloud.interface import Cloud

TERMINAL_TRAINING_STATUSES: Final = {"Completed", "Failed", "Stopped"}
SUPPORTED_PATTERNS: Final[set[Any]] = {ResourceCondition.WaitForTaskToken, ResourceCondition.Sync}
# The SageMaker APIs Step Functions integrates with (optimised integrations).
SUPPORTED_ACTIONS: Final = {
    "createendpoint": "CreateEndpoint",
    "createendpointconfig": "CreateEndpointConfig",
    "createhyperparametertuningjob": "CreateHyperParameterTuningJob",
    "createlabelingjob": "CreateLabelingJob",
    "createmodel": "CreateModel",
    "createprocessingjob": "CreateProcessingJob",
    "createtrainingjob": "CreateTrainingJob",
    "createtransformjob": "CreateTransformJob",
    "updateendpoint": "UpdateEndpoint",
}


def json_safe(value: Any) -> Any:
    """A describe result as Step Functions returns it: timestamps as epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


class StateTaskServiceSageMaker(state_task_service_callback.StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns=SUPPORTED_PATTERNS)

    def _get_supported_parameters(self) -> set[str] | None:
        operation = SUPPORTED_ACTIONS.get(self.resource.api_action.lower())
        if operation is None:
            return None
        shape = _sagemaker_model.operation_model(operation).input_shape
        return set(shape.members) if shape is not None else set()

    def _failure(self, env: Any, error: str, cause: str, error_name: Any) -> FailureEvent:
        return FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            event_details=cast(
                EventDetails,
                {
                    "taskFailedEventDetails": TaskFailedEventDetails(
                        error=error,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                },
            ),
        )

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            code = ex.response["Error"]["Code"]
            error = f"SageMaker.{code}" if code.endswith("Exception") else f"SageMaker.{code}Exception"
            return self._failure(env, error, ex.response["Error"]["Message"], CustomErrorName(error))
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = boto_client_for(
            service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
        )
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        env.stack.append(json_safe(response))

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any] | None:
        if self._get_boto_service_action() != "create_training_job":
            return super()._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
        client = boto_client_for(
            service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
        )
        env.stack.pop()
        job_name = normalised_parameters["TrainingJobName"]

        def resolve() -> dict[str, Any] | None:
            job: dict[str, Any] = json_safe(client.describe_training_job(TrainingJobName=job_name))
            if job["TrainingJobStatus"] not in TERMINAL_TRAINING_STATUSES:
                return None
            if job["TrainingJobStatus"] == "Completed":
                return job
            failed = StatesErrorNameType.StatesTaskFailed
            raise FailureEventException(
                self._failure(env, failed.to_name(), to_json_str(job), StatesErrorName(typ=failed))
            )

        return resolve


def _task_for(original: Callable[..., Any]) -> Callable[..., Any]:
    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name=service_name)

    return state_task_service_for


@contextmanager
def sagemaker_tasks(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(
        state_task_factory,
        "state_task_service_for",
        _task_for(vars(state_task_factory)["state_task_service_for"]),
    ):
        yield
