"""SNS delivers to a queue only where the queue's policy lets the topic send to it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localcloud import LocalCloud
from localcloud.adapters import ALL
from localcloud.adapters.sns_subscriptions import sns_subscriptions
from tests.conftest import FIXTURES
from tests.helpers import queue, subscribed_queue

pytestmark = pytest.mark.localcloud

TEMPLATE = FIXTURES / "templates" / "alarm.yaml"


@pytest.fixture
def topic_cloud() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE) as cloud:
        yield cloud


def subscriber(cloud: LocalCloud, *, allow_topic: bool) -> str:
    """A queue subscribed to the fixture's topic, whose policy lets the topic send or not."""
    topic = cloud.outputs["TopicArn"]
    if allow_topic:
        return subscribed_queue(cloud, topic, "subscriber")
    url, arn = queue(cloud, "subscriber")
    cloud.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def received(cloud: LocalCloud, url: str) -> list[str]:
    messages = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["Message"] for m in messages]


def test_gap_moto_delivers_to_a_queue_whose_policy_does_not_allow_the_topic() -> None:
    with LocalCloud.from_template(TEMPLATE, adapters=[a for a in ALL if a is not sns_subscriptions]) as cloud:
        url = subscriber(cloud, allow_topic=False)
        cloud.client("sns").publish(TopicArn=cloud.outputs["TopicArn"], Message="hello")
        assert received(cloud, url) == ["hello"]


def test_fix_a_queue_that_does_not_allow_the_topic_receives_nothing(topic_cloud: LocalCloud) -> None:
    # Given a subscribed queue with no policy for the topic
    url = subscriber(topic_cloud, allow_topic=False)
    # When a message is published
    topic_cloud.client("sns").publish(TopicArn=topic_cloud.outputs["TopicArn"], Message="hello")
    # Then it is not delivered, and the refusal is on record
    assert received(topic_cloud, url) == []
    [(source, target, why)] = topic_cloud.undelivered
    assert source == topic_cloud.outputs["TopicArn"]
    assert target.endswith(":subscriber")
    assert "sqs:SendMessage" in why


def test_fix_a_queue_that_allows_the_topic_receives_its_messages(topic_cloud: LocalCloud) -> None:
    url = subscriber(topic_cloud, allow_topic=True)
    topic_cloud.client("sns").publish(TopicArn=topic_cloud.outputs["TopicArn"], Message="hello")
    assert received(topic_cloud, url) == ["hello"]
    assert topic_cloud.undelivered == []
