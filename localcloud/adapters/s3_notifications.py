"""Gap: moto's S3 sends each event to EventBridge exactly once, at once, in order.

S3 delivers bucket notifications at least once: now and then an "Object Created" event reaches
EventBridge twice, or after the events of objects written later. Moto hands every event to the
bus inside the request that wrote the object. Fix: each event a bucket sends to EventBridge goes
through the cloud's deliveries (:mod:`localcloud.delivery`), one channel per bucket and top-level
prefix (one flow's objects, kept apart from others' so that a seed replays); in the at-least-once
mode some arrive twice, some late. The event describes the object as it was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.s3 import notifications

from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _delivering(cloud: Cloud, original: Callable[..., None]) -> Callable[..., None]:
    def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        # The fields the event reads, now: a late delivery must not read a later state of the key.
        written = SimpleNamespace(name=key.name, size=key.size, etag=key.etag, version_id=key.version_id)
        name = channel(cloud.physical_ids, "s3", bucket.name, key.name.split("/", 1)[0])
        cloud.deliveries.deliver(name, lambda: original(account_id, bucket, event_name, written))

    return send


@contextmanager
def s3_notifications(cloud: Cloud) -> Iterator[None]:
    if cloud.deliveries.mode is None:
        yield
        return
    send = _delivering(cloud, notifications._send_event_bridge_message)
    with mock.patch.object(notifications, "_send_event_bridge_message", send):
        yield
