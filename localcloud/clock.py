"""Stack time for the local cloud: one clock that handlers and moto read, and waits that run faster.

Stack time is real time plus every ``advance`` so far. While :meth:`Clock.travelling`, the
process's wall clock reads stack time too (``time.time``, ``time.time_ns``, ``datetime.now``,
``datetime.utcnow``, ``date.today``...), through time-machine; ``time.monotonic`` and
``time.perf_counter`` stay real, so real deadlines (polling, test timeouts) keep working.

Waiting is compressed. A ``Wait`` of N seconds, a Retry interval of N seconds and the poll
interval of ``.sync`` tasks each take ``N * scale`` seconds of wall time. A timeout of N seconds
(:class:`ScaledEvent`) ends after N seconds of stack time, in which idle time is compressed the
same way, but time in which in-process work runs (:meth:`Clock.working`: a task calling its
service, a handler) counts at wall speed: a handler that runs for one real second uses one
second of its task's timeout, not hours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import time_machine
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)

# One hour of stack time in 0.36 s of wall time by default: a 10-minute Wait takes 60 ms.
DEFAULT_SCALE = 1e-4
# The shortest wall-clock slice a stack-time timeout waits at once (no busy loop near its end).
_MIN_SLICE = 0.001
# The longest wall-clock slice it waits at once, so that it counts an ``advance`` made meanwhile.
_MAX_SLICE = 0.05


class Clock:
    """Scaled sleeps and timeouts, and a virtual now."""

    def __init__(self, scale: float = DEFAULT_SCALE) -> None:
        if scale <= 0:
            raise ValueError(f"clock scale must be positive, got {scale}")
        self.scale = scale
        self._offset = timedelta()
        self._lock = threading.Lock()
        self._traveller: time_machine.Traveller | None = None
        self._working = 0
        self._working_since = 0.0
        self._worked = 0.0
        self._thread = threading.local()  # how deep in work the calling thread is

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of stack time (compressed while idle; every ``advance`` meanwhile counts)."""

        def nap(wall_seconds: float) -> bool:
            time.sleep(wall_seconds)
            return False

        self.wait(nap, seconds)

    def wall_seconds(self, seconds: float) -> float:
        """Wall-clock seconds that ``seconds`` of stack time take."""
        return max(0.0, seconds) * self.scale

    def now(self) -> datetime:
        """The stack's current time: real time plus every ``advance`` so far."""
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        if self._traveller is not None:
            # The travelling wall clock is stack time: read it, so the two never disagree.
            return datetime.now(UTC)
        return datetime.fromtimestamp(_real_time(), UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move stack time forward by ``delta`` at once."""
        if delta < timedelta():
            raise ValueError(f"the clock only moves forward, got {delta}")
        with self._lock:
            self._offset += delta
            if self._traveller is not None:
                self._traveller.shift(delta)

    @contextmanager
    def travelling(self) -> Iterator[None]:
        """Make the process's wall clock read stack time until exit; monotonic clocks stay real."""
        with self._lock:
            travel = time_machine.travel(self._now().timestamp(), tick=True)
            self._traveller = travel.start()
            time.time()  # a ticking traveller counts from its first reading: make that now
        try:
            yield
        finally:
            with self._lock:
                self._traveller = None
                travel.stop()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Mark in-process work (a task or a handler running): timeouts count it at wall speed."""
        depth = getattr(self._thread, "depth", 0)
        self._start_work()
        self._thread.depth = depth + 1
        try:
            yield
        finally:
            self._thread.depth = depth
            self._stop_work()

    @contextmanager
    def _idle(self) -> Iterator[None]:
        """While the calling thread waits in stack time, the work it was doing (if any) pauses."""
        depth = getattr(self._thread, "depth", 0)
        if depth:
            self._stop_work()
            self._thread.depth = 0
        try:
            yield
        finally:
            if depth:
                self._thread.depth = depth
                self._start_work()

    def _start_work(self) -> None:
        with self._lock:
            if self._working == 0:
                self._working_since = time.monotonic()
            self._working += 1

    def _stop_work(self) -> None:
        with self._lock:
            self._working -= 1
            if self._working == 0:
                self._worked += time.monotonic() - self._working_since

    def _worked_seconds(self) -> float:
        with self._lock:
            ongoing = time.monotonic() - self._working_since if self._working else 0.0
            return self._worked + ongoing

    def wait(self, wait: Callable[[float], bool], seconds: float) -> bool:
        """Call ``wait(wall_timeout)`` until it returns True or ``seconds`` of stack time have passed.

        Each call waits the wall time that what is left would take if nothing worked meanwhile
        (at most :data:`_MAX_SLICE`, so that an ``advance`` is seen soon); time spent working counts
        at wall speed, and every ``advance`` meanwhile counts in full, so the next call waits for
        what is still left.
        """
        remaining = seconds
        with self._idle():
            while True:
                started, worked, offset = time.monotonic(), self._worked_seconds(), self._offset
                if wait(min(max(self.wall_seconds(remaining), _MIN_SLICE), _MAX_SLICE)):
                    return True
                wall = time.monotonic() - started
                busy = min(self._worked_seconds() - worked, wall)
                remaining -= busy + (wall - busy) / self.scale + (self._offset - offset).total_seconds()
                if remaining <= 0:
                    return False


def _real_time() -> float:
    """Real epoch seconds, even while a traveller moves the wall clock."""
    hatch = time_machine.escape_hatch
    return hatch.time.time() if hatch.is_travelling() else time.time()


class ScaledEvent(threading.Event):
    """A ``threading.Event`` whose ``wait(timeout)`` counts ``timeout`` in stack time."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        return self._clock.wait(super().wait, timeout)


class ScaledTime:
    """Stands in for the ``time`` module inside moto's interpreter: same API, scaled ``sleep``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class ScaledThreading:
    """Stands in for the ``threading`` module inside moto's interpreter: events wait in stack time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def Event(self) -> ScaledEvent:  # noqa: N802 (the name of the class it stands in for)
        return ScaledEvent(self._clock)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def scaled_modules() -> list[ModuleType]:
    """Modules of moto's ASL interpreter that sleep for real: Retry back-off and ``.sync`` polling."""
    return [retrier_decl, state_task_service_callback]
