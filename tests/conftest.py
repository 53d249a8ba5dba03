"""Shared test helpers: the repository's paths, sample events, and a deployed local cloud."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud import LocalCloud

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# One folder per function, grouped by flow: functions/<flow>/<function>/app.py.
FUNCTION_FOLDERS = sorted(app.parent for app in FUNCTIONS.glob("*/*/app.py"))

# Logic modules are imported by name, as each function's handler does in Lambda.
for function_folder in FUNCTION_FOLDERS:
    if str(function_folder) not in sys.path:
        sys.path.append(str(function_folder))


def load_event(name: str) -> Any:
    """A sample event from events/, e.g. ``ingestion/ingest.json`` (the files `sam local invoke -e` uses)."""
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def queue(cloud: LocalCloud, name: str) -> tuple[str, str]:
    """A new SQS queue in the local cloud, to catch what is delivered to it: (URL, ARN)."""
    sqs = cloud.client("sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def subscribed_queue(cloud: LocalCloud, topic_arn: str, name: str) -> str:
    """A new queue subscribed to ``topic_arn``, whose policy lets the topic deliver (as AWS requires): its URL."""
    url, arn = queue(cloud, name)
    allow_topic = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allow_topic]})
    cloud.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    cloud.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    """The stack of template.yaml, freshly deployed into the local cloud."""
    with LocalCloud.from_template(TEMPLATE) as deployed:
        yield deployed
