"""Test helpers, in one module: sample events, the bad-input corpus, queues, retraining runs, a function's
handler loaded afresh, and the ``conveyor`` command run as its user runs it.

Helpers that read or drive the deployed stack as its users do (uploads, keys, executions, model
packages, queue messages) are shared with the demo in :mod:`conveyor_tools.stack`; these are the
ones only tests need. Paths and fixtures stay in ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from conveyor.schema import load_schema
from conveyor.state.control import set_frozen
from conveyor_tools.operator_cli import main
from conveyor_tools.seeding import seed_run
from localcloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from tests.conftest import FIXTURES, FUNCTIONS, ROOT

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


def load_app(function: str, environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A function's app module (``function``: its folder under functions/, e.g. ``release/edge_controller``),
    loaded afresh with ``environment``, as a cold start loads it."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    name = function.rsplit("/", 1)[-1]
    spec = importlib.util.spec_from_file_location(f"{name}_app", FUNCTIONS / function / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Printed:
    """What one ``conveyor`` command did, as its user sees it."""

    status: int
    out: str
    err: str


def conveyor(cloud: LocalCloud, *argv: str) -> Printed:
    """Run ``conveyor --stack-name <the local stack> ARGV`` against ``cloud`` (as its administrator)."""
    # Captured around the command alone (not with capsys): the local cloud's functions keep the
    # streams they first saw, and must not keep one that pytest closes after the test.
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["--stack-name", cloud.stack_name, *argv], connect=lambda name, region: cloud)
    return Printed(status, out.getvalue(), err.getvalue())
