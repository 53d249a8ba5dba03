"""Gap: moto measures a task's ``TimeoutSeconds`` and ``HeartbeatSeconds`` in real time.

Wait states and retry back-off run on the scaled clock, but a task waiting for its token with a
one-hour timeout waits one real hour, and a missed five-minute heartbeat takes five real minutes
to notice. Fix: both count stack time, scaled like a ``Wait``, with one difference: while a task
works in-process (calling its service, a Lambda handler running) time counts at wall speed, since
real work takes what it takes; only its waiting (for a token, a heartbeat, the next ``.sync``
poll) is compressed. A handler that runs for a real second uses a second of a task's timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import StateTaskActivity
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.callback import callback

from localcloud.clock import Clock, ScaledEvent, ScaledThreading

if TYPE_CHECKING:
    from localcloud.interface import Cloud

# Every kind of Task state, each with its own evaluation.
TASK_CLASSES = (StateTaskService, StateTaskLambda, StateTaskActivity)


def _working(clock: Clock, run: Callable[..., Any]) -> Callable[..., Any]:
    def working(*args: Any, **kwargs: Any) -> Any:
        with clock.working():
            return run(*args, **kwargs)

    return working


@contextmanager
def task_timeouts(cloud: Cloud) -> Iterator[None]:
    clock = cloud.clock
    with ExitStack() as stack:
        # TimeoutSeconds: the state waits for its task's thread on a threading.Event.
        stack.enter_context(mock.patch.object(execute_state, "threading", ScaledThreading(clock)))
        # Task tokens, heartbeats and activity workers are waited for on callback Events.
        stack.enter_context(mock.patch.object(callback, "Event", partial(ScaledEvent, clock)))
        for task_class in TASK_CLASSES:
            evaluate = _working(clock, task_class._eval_execution)
            stack.enter_context(mock.patch.object(task_class, "_eval_execution", evaluate))
        # Handlers invoked outside a task (the API, S3, EventBridge) are work too.
        invoke = _working(clock, LambdaFunction._invoke_lambda)
        stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda", invoke))
        yield
