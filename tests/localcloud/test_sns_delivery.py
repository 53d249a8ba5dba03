"""In the at-least-once mode, SNS delivers a message to a subscription twice, or late."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL
from localcloud.adapters.sns_delivery import sns_delivery
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE, subscribed_queue

pytestmark = pytest.mark.localcloud

TWICE = AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0)
LATE = AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=1)


@contextmanager
def stack(delivery: AtLeastOnce, *, without_adapter: bool = False) -> Iterator[LocalCloud]:
    adapters = [a for a in ALL if not (without_adapter and a is sns_delivery)]
    with LocalCloud.from_template(TEMPLATE, adapters=adapters, delivery=delivery) as cloud:
        yield cloud


def publish(cloud: LocalCloud) -> str:
    message_id: str = cloud.client("sns").publish(TopicArn=cloud.outputs["NotificationTopicArn"], Message="hello")[
        "MessageId"
    ]
    return message_id


def received(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    messages = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_gap_moto_delivers_each_message_once_at_once() -> None:
    with stack(TWICE, without_adapter=True) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id]


def test_fix_a_message_can_arrive_twice_with_the_same_message_id() -> None:
    with stack(TWICE) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id, message_id]


def test_fix_a_message_can_arrive_late() -> None:
    with stack(LATE) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert received(cloud, url) == []
        cloud.run_until_idle()
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id]
