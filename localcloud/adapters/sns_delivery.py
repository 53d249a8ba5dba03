"""Gap: moto's SNS delivers each message to each subscription exactly once, at once, in order.

SNS delivers at least once: a subscribed queue or function now and then gets a message twice
(with the same ``MessageId``), or after messages published later. Moto delivers inside the
``Publish`` request. Fix: each delivery to a subscription goes through the cloud's deliveries
(:mod:`localcloud.delivery`), one channel per subscription, delivered as moto delivers it; in the
at-least-once mode some arrive twice, some late.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.sns.models import Subscription

from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _delivering(cloud: Cloud, original: Callable[..., None]) -> Callable[..., None]:
    def publish(subscription: Any, *args: Any, **kwargs: Any) -> None:
        name = channel(cloud.physical_ids, "sns", subscription.topic.arn, subscription.endpoint)
        cloud.deliveries.deliver(name, lambda: original(subscription, *args, **kwargs))

    return publish


@contextmanager
def sns_delivery(cloud: Cloud) -> Iterator[None]:
    if cloud.deliveries.mode is None:
        yield
        return
    with mock.patch.object(Subscription, "publish", _delivering(cloud, Subscription.publish)):
        yield
