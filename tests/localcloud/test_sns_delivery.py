"""In the at-least-once mode, SNS delivers a message to a subscription twice, or late."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.sns_delivery import sns_delivery
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.helpers import subscribed_queue
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

TWICE = AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0)
LATE = AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=1)


def publish(cloud: LocalCloud) -> str:
    message_id: str = cloud.client("sns").publish(TopicArn=cloud.outputs["NotificationTopicArn"], Message="hello")[
        "MessageId"
    ]
    return message_id


def received(cloud: LocalCloud, url: str) -> list[dict[str, Any]]:
    messages = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_gap_moto_delivers_each_message_once_at_once() -> None:
    with cloud_without(sns_delivery, delivery=TWICE) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id]


def test_fix_a_message_can_arrive_twice_with_the_same_message_id() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=TWICE) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id, message_id]


def test_fix_a_message_can_arrive_late() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=LATE) as cloud:
        url = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "subscriber")
        message_id = publish(cloud)
        assert received(cloud, url) == []
        cloud.run_until_idle()
        assert [m["MessageId"] for m in received(cloud, url)] == [message_id]
