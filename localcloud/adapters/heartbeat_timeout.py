"""Gap: moto fails a task that misses its heartbeat with ``States.Timeout``.

On AWS the error is ``States.HeartbeatTimeout``: a Retry or Catch can match it by that name,
and ``States.Timeout`` (which covers both kinds of timeout) or ``States.ALL`` match it too.
Moto reports ``States.Timeout``, so a Catch written for missed heartbeats never matches. Fix: a
missed heartbeat fails the task with ``States.HeartbeatTimeout`` (in its TaskTimedOut or
ActivityTimedOut event), and ``ErrorEquals: ["States.Timeout"]`` still matches it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import StateTaskActivity
from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

if TYPE_CHECKING:
    from localcloud.interface import Cloud

HEARTBEAT_TIMEOUT = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)
TIMEOUT = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)


def _as_heartbeat_timeout(env: Any, timed_out: FailureEvent) -> FailureEvent:
    details: dict[str, Any] = {
        name: {**cast(dict[str, Any], detail), "error": HEARTBEAT_TIMEOUT.error_name}
        for name, detail in (timed_out.event_details or {}).items()
    }
    return FailureEvent(
        env=env,
        error_name=HEARTBEAT_TIMEOUT,
        event_type=timed_out.event_type,
        event_details=cast(EventDetails, details),
    )


def _naming_heartbeats(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    def from_error(task: Any, env: Any, ex: Exception) -> FailureEvent:
        failure = original(task, env=env, ex=ex)
        return _as_heartbeat_timeout(env, failure) if isinstance(ex, HeartbeatTimeoutError) else failure

    return from_error


def _matching_timeout(original: Callable[..., None]) -> Callable[..., None]:
    def eval_body(declaration: ErrorEqualsDecl, env: Any) -> None:
        if env.stack and env.stack[-1] == HEARTBEAT_TIMEOUT and TIMEOUT in declaration.error_names:
            env.stack.pop()
            env.stack.append(True)
            return
        original(declaration, env)

    return eval_body


@contextmanager
def heartbeat_timeout(cloud: Cloud) -> Iterator[None]:
    with ExitStack() as stack:
        for task_class in (StateTask, StateTaskActivity):
            named = _naming_heartbeats(task_class._from_error)
            stack.enter_context(mock.patch.object(task_class, "_from_error", named))
        matching = _matching_timeout(ErrorEqualsDecl._eval_body)
        stack.enter_context(mock.patch.object(ErrorEqualsDecl, "_eval_body", matching))
        yield
