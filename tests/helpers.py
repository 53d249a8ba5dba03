"""Test helpers, in one module: sample events, the bad-input corpus, queues, and retraining runs.

Helpers that read or drive the deployed stack as its users do (uploads, keys, executions, model
packages, queue messages) are shared with the demo in :mod:`conveyor_tools.stack`; these are the
ones only tests need. Paths and fixtures stay in ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest

from conveyor.schema import load_schema
from conveyor.state.control import set_frozen
from conveyor_tools.seeding import seed_run
from localcloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from tests.conftest import FIXTURES, ROOT

BAD_INPUTS = FIXTURES / "bad_inputs"
COLUMNS = load_schema("predictive_maintenance").columns
DELIVERIES = {"ordered": None, "at-least-once": AtLeastOnce(seed=7)}
"""How the flow tests' local cloud delivers: each event once and in order, or as AWS may (seeded, so it replays)."""


def load_event(name: str) -> Any:
    """A sample event from events/, e.g. ``ingestion/ingest.json`` (the files `sam local invoke -e` uses)."""
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def bad_inputs(kind: Literal["upload", "record"]) -> list[Any]:
    """The corpus's cases of ``kind``, each a ``case`` parameter named by its file or name.

    A case holds what is given (``file`` under bad_inputs/, or a stream record's ``data_base64``)
    and what the rejection must say (``expected``: rule, and line, column and value where known);
    a record's case may also name options of the feature schema in force (``schema``, e.g.
    ``{"unknown_fields": "reject"}``).
    """
    cases = json.loads((BAD_INPUTS / "cases.json").read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case.get("file") or case["name"]) for case in cases if case["kind"] == kind]


def bad_events() -> list[Any]:
    """The corpus's malformed, unknown or foreign events for the security responder (bad_inputs/cloudtrail/),
    each a ``case`` parameter named by its file, with the reason it must be ignored for (``expected``).
    """
    cases = json.loads((BAD_INPUTS / "cloudtrail" / "cases.json").read_text(encoding="utf-8"))["cases"]
    return [pytest.param(case, id=case["file"]) for case in cases]


def bad_event(file: str) -> Any:
    """The event of the corpus's ``file`` under bad_inputs/cloudtrail/, parsed."""
    return json.loads((BAD_INPUTS / "cloudtrail" / file).read_text(encoding="utf-8"))


def bad_input(file: str) -> bytes:
    """The bytes of the corpus's ``file``, e.g. ``csv/label_text.csv``."""
    return (BAD_INPUTS / file).read_bytes()


def freeze_releases(cloud: LocalCloud) -> None:
    """Freeze releases, as a security finding would (the administrator writes the flag)."""
    set_frozen(
        cloud.outputs["StateTableName"],
        frozen=True,
        reason="a test froze releases",
        now=cloud.clock.now(),
        dynamodb=cloud.client("dynamodb"),
    )


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


def snapshot(
    cloud: LocalCloud, run_id: str, *, rows: int = 3000, seed: int = 11, shuffle: bool = False, parts: int = 1
) -> dict[str, Any]:
    """A dataset snapshot of ``parts`` parts, as ingestion leaves them; the retraining workflow's input."""
    return seed_run(cloud, run_id, rows=rows, seed=seed, shuffle=shuffle, parts=parts)


def run(cloud: LocalCloud, run_input: dict[str, Any]) -> dict[str, Any]:
    """Start the retraining workflow on ``run_input``, let it end, and describe its execution."""
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=cloud.outputs["RetrainingStateMachineArn"],
        name=run_input["run_id"],
        input=json.dumps(run_input),
    )["executionArn"]
    cloud.run_until_idle(timeout=120)
    described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    return described
