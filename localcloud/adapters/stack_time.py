"""Gap: handlers and moto read the real clock, not stack time.

``cloud.advance(...)`` moves the clock that schedules and alarm evaluation read, but a handler's
``datetime.now()`` or ``time.time()``, and every timestamp moto writes (execution start and stop
dates, history events, item and object dates), stay on real time: after advancing a day, a
handler still writes yesterday's date. Fix: while the local cloud runs, the process's wall clock
reads stack time (``time.time``, ``time.time_ns``, ``datetime.now``, ``datetime.utcnow``,
``date.today``) and every ``advance`` moves it; ``time.monotonic`` and ``time.perf_counter`` stay
real. It is undone when the local cloud exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.interface import Cloud


@contextmanager
def stack_time(cloud: Cloud) -> Iterator[None]:
    with cloud.clock.travelling():
        yield
