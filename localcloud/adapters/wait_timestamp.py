"""Gap: moto compares a Wait state's ``Timestamp`` with the machine's local time.

``Timestamp`` and ``TimestampPath`` are UTC (they end in ``Z``), but moto subtracts the naive
local ``datetime.now()``: on a machine whose time zone is not UTC, the wait ends hours early or
late. Fix: the wait lasts from stack time now (UTC) until the timestamp, rounded up to whole
seconds, and takes that many seconds of stack time (scaled, like every ``Wait``); a timestamp in
the past ends the wait at once, as on AWS.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

if TYPE_CHECKING:
    from localcloud.interface import Cloud


@contextmanager
def wait_timestamp(cloud: Cloud) -> Iterator[None]:
    def wait_seconds(wait: Timestamp, env: Any) -> int:
        wait.string.eval(env=env)
        text: str = env.stack.pop()
        timestamp = wait._from_timestamp_string(timestamp=text)
        if timestamp is None:
            raise FailureEventException(wait._create_failure_event(env, text))
        return math.ceil((timestamp.replace(tzinfo=UTC) - cloud.clock.now()).total_seconds())

    with mock.patch.object(Timestamp, "_get_wait_seconds", wait_seconds):
        yield
