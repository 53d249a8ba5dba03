"""Gap: moto's backends are not thread-safe; concurrent requests can corrupt them.

A DynamoDB transaction in moto deep-copies the table while another thread writes to it, and
fails with "dictionary changed size during iteration". AWS services handle each request
atomically. Fix: each request to the emulation runs alone, under one re-entrant lock (a handler
that calls back into the emulation from the same thread, as an in-process Lambda does, goes on).
Between requests, threads still interleave, so read-then-conditional-write races stay real.
The lock is the cloud's deliveries' (:mod:`localcloud.delivery`): a delivery held back and released
outside any request holds it too, as it would had it been made inside the request that sent it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.core.botocore_stubber import BotocoreStubber

if TYPE_CHECKING:
    from localcloud.interface import Cloud


@contextmanager
def serialized_requests(lock: threading.RLock | None = None) -> Iterator[None]:
    """Handle one request to moto at a time (holding ``lock``), for as long as the context lasts."""
    lock = lock or threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(stubber, request)

    with mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield


@contextmanager
def atomic_requests(cloud: Cloud) -> Iterator[None]:
    with serialized_requests(cloud.deliveries.request_lock):
        yield
