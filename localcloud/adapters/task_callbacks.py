"""Gap: moto's SendTaskFailure drops the ``cause``.

On AWS, ``SendTaskFailure(taskToken, error, cause)`` fails the waiting task with both: a Catch
with a ResultPath sees ``{"Error": error, "Cause": cause}``, the TaskFailed event of the
execution history carries both, and so does a failed execution. Moto's API handler passes only
the error on (its interpreter would take the cause), so the cause arrives as null: a workflow
that reports why a callback rejected its task loses the why. Fix: the handler passes the cause
on too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from unittest import mock

from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
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


@contextmanager
def task_callbacks(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(StepFunctionResponse, "send_task_failure", _send_task_failure):
        yield
