"""Gaps: moto's SendTaskFailure drops the ``cause``, and its task callbacks fail while an execution starts.

On AWS, ``SendTaskFailure(taskToken, error, cause)`` fails the waiting task with both: a Catch
with a ResultPath sees ``{"Error": error, "Cause": cause}``, the TaskFailed event of the
execution history carries both, and so does a failed execution. Moto's API handler passes only
the error on (its interpreter would take the cause), so the cause arrives as null: a workflow
that reports why a callback rejected its task loses the why. Fix: the handler passes the cause
on too.

Moto finds a task token's task by asking every execution, and an execution that has just started
has no interpreter environment yet (its worker is still parsing the definition): while one is
starting, every SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat, for any token, fails
with an AttributeError. A heartbeat sent by a function invoked asynchronously (the canary
controller's) then waits for Lambda's retry, a minute or more of stack time later. Fix: the
search leaves out executions without an environment (a task waiting for a token has one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _send_task_failure(response: StepFunctionResponse) -> ActionResult:
    # The local cloud always executes state machines: their tasks wait in the interpreter's backend.
    backend = stepfunctions_parser_backends[response.current_account][response.region]
    backend.send_task_failure(
        response._get_param("taskToken"),
        error=response._get_param("error"),
        cause=response._get_param("cause"),
    )
    return EmptyResult()


def _started(get_executions: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """The backend's search for a token's task (and a map run's), among executions that have an environment."""

    def started_executions(backend: StepFunctionsParserBackend, execution_status: Any = None) -> list[Any]:
        executions = get_executions(backend, execution_status)
        return [e for e in executions if e.exec_worker is not None and e.exec_worker.env is not None]

    return started_executions


@contextmanager
def task_callbacks(cloud: Cloud) -> Iterator[None]:
    started = _started(StepFunctionsParserBackend._get_executions)
    with (
        mock.patch.object(StepFunctionResponse, "send_task_failure", _send_task_failure),
        mock.patch.object(StepFunctionsParserBackend, "_get_executions", started),
    ):
        yield
