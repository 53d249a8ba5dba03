"""Stack time for the local cloud: Wait states and retry back-off run faster than real time.

A ``Wait`` of N seconds, a Retry interval of N seconds and the poll interval of ``.sync`` tasks
each take ``N * scale`` seconds of wall time. ``advance`` moves the clock that time-driven
emulations (schedules, alarm evaluation) read, without waiting at all.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)

# One hour of stack time in 0.36 s of wall time by default: a 10-minute Wait takes 60 ms.
DEFAULT_SCALE = 1e-4


class Clock:
    """Scaled sleeps and a virtual now."""

    def __init__(self, scale: float = DEFAULT_SCALE) -> None:
        if scale <= 0:
            raise ValueError(f"clock scale must be positive, got {scale}")
        self.scale = scale
        self._offset = timedelta()
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of stack time."""
        time.sleep(max(0.0, seconds) * self.scale)

    def wall_seconds(self, seconds: float) -> float:
        """Wall-clock seconds that ``seconds`` of stack time take."""
        return max(0.0, seconds) * self.scale

    def now(self) -> datetime:
        """The stack's current time: real time plus every ``advance`` so far."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move stack time forward by ``delta`` at once."""
        if delta < timedelta():
            raise ValueError(f"the clock only moves forward, got {delta}")
        with self._lock:
            self._offset += delta


class ScaledTime:
    """Stands in for the ``time`` module inside moto's interpreter: same API, scaled ``sleep``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def scaled_modules() -> list[ModuleType]:
    """Modules of moto's ASL interpreter that sleep for real: Retry back-off and ``.sync`` polling."""
    return [retrier_decl, state_task_service_callback]
