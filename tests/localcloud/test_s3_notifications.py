"""In the at-least-once mode, a bucket sends an "Object Created" event to EventBridge twice, or late.

The events are watched through a rule that forwards them to a queue. Its target is itself one
channel of at-least-once deliveries: with every delivery doubled, the queue gets two copies per
event from the target alone, four when the bucket doubles the event too.
"""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.adapters.s3_notifications import s3_notifications
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.helpers import queue
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

TWICE = AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0)


def watched(cloud: LocalCloud) -> str:
    """A queue that receives the data bucket's "Object Created" events for watched/; its URL."""
    url, arn = queue(cloud, "watcher")
    events = cloud.client("events")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [cloud.outputs["DataBucketName"]]}, "object": {"key": [{"prefix": "watched/"}]}},
    }
    events.put_rule(Name="watch", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="watch", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def write(cloud: LocalCloud, *names: str) -> None:
    for name in names:
        cloud.client("s3").put_object(Bucket=cloud.outputs["DataBucketName"], Key=f"watched/{name}", Body=b"x")


def keys_received(cloud: LocalCloud, url: str) -> list[str]:
    sqs = cloud.client("sqs")
    keys = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        keys += [json.loads(m["Body"])["detail"]["object"]["key"] for m in messages]
    return sorted(keys)


def test_gap_moto_sends_each_event_to_the_bus_once() -> None:
    with cloud_without(s3_notifications, delivery=TWICE) as cloud:
        url = watched(cloud)
        write(cloud, "a")
        assert keys_received(cloud, url) == ["watched/a"] * 2


def test_fix_an_event_can_reach_the_bus_twice() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=TWICE) as cloud:
        url = watched(cloud)
        write(cloud, "a")
        assert keys_received(cloud, url) == ["watched/a"] * 4


def test_fix_events_can_arrive_late_yet_each_arrives_once() -> None:
    with LocalCloud.from_template(TEMPLATE, delivery=AtLeastOnce(seed=3, duplicate_rate=0, delay_rate=0.5)) as cloud:
        url = watched(cloud)
        names = [f"object-{n:02d}" for n in range(20)]
        write(cloud, *names)
        early = keys_received(cloud, url)
        cloud.run_until_idle()
        late = keys_received(cloud, url)
    assert early, "some events arrived at once"
    assert late, "some events arrived late"
    assert sorted(early + late) == [f"watched/{name}" for name in names]
