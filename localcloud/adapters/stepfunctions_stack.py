"""Gap: state machines created by moto's CloudFormation are invisible to its Step Functions API.

With execution turned on, moto's Step Functions API serves a second backend (the ASL
interpreter's), while CloudFormation keeps creating state machines in the first one: the stack
reports the state machine, and every API call answers StateMachineDoesNotExist. Fix: one backend
for both, the interpreter's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from unittest import mock

from moto.stepfunctions import models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

if TYPE_CHECKING:
    from localcloud.interface import Cloud


@contextmanager
def stepfunctions_stack(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(models, "stepfunctions_backends", stepfunctions_parser_backends):
        yield
