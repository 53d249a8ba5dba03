"""``conveyor status``, ``conveyor freeze`` and ``conveyor unfreeze`` through the local cloud, as an
operator runs them: the command line in, what it prints and what the stack then does out.

Each test deploys a stack of its own, but for the read-only ones grouped in a class, which share
the class's stack (a deployment costs a few seconds).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from conveyor.schema import load_schema
from conveyor.state.control import freeze_state
from conveyor_tools.stack import executions, messages, upload
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import conveyor, subscribed_queue
from tests.localcloud.trail_stack import INTRUDER_ACTIONS, intruder

pytestmark = pytest.mark.localcloud

# Training on 3,000 rows at 60 rounds takes about as long as a deployment; no endpoint to wait for.
PARAMETERS = {"MinNewRows": "3000", "NumRound": "60", "EndpointEnabled": "false"}
COLUMNS = load_schema("predictive_maintenance").columns


def operator(cloud: LocalCloud) -> str:
    """The ARN the CLI's credentials have: who it records."""
    arn: str = cloud.client("sts").get_caller_identity()["Arn"]
    return arn


def rows(count: int, seed: int) -> bytes:
    return csv_text(records(count, seed=seed), COLUMNS).encode()


@contextmanager
def deployed() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS) as cloud:
        yield cloud


@contextmanager
def tampered() -> Iterator[tuple[LocalCloud, str]]:
    """A stack whose releases a security finding froze (an intruder suspended versioning): (stack, finding id)."""
    with deployed() as cloud:
        mallory = intruder(cloud, *INTRUDER_ACTIONS)
        cloud.client("s3", principal=mallory).put_bucket_versioning(
            Bucket=cloud.outputs["DataBucketName"], VersioningConfiguration={"Status": "Suspended"}
        )
        cloud.run_until_idle()
        [finding_id] = freeze_state(cloud.outputs["StateTableName"], cloud.client("dynamodb")).finding_ids
        yield cloud, finding_id


class TestAFreshStack:
    """Nothing has happened yet: no upload, no model, no freeze."""

    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls) -> Iterator[LocalCloud]:
        with deployed() as cloud:
            yield cloud

    def test_status_says_that_nothing_has_happened_yet(self, stack: LocalCloud) -> None:
        # When an operator asks a fresh stack for its status
        printed = conveyor(stack, "--stack-name", "conveyor-local", "status")
        # Then it answers without an error, each section saying there is nothing yet
        assert (printed.status, printed.err) == (0, "")
        lines = printed.out.splitlines()
        assert lines[0] == "Stack conveyor-local"
        for workflow in ("retraining", "canary release", "edge release"):
            assert lines[lines.index(f"  {workflow}") + 1] == "    none yet"
        assert "  none yet: no model has been released" in lines
        assert "  none yet: no package has reached the endpoint" in lines
        assert "  none yet: no package has been released to the fleet" in lines
        assert lines[-2:] == ["Freeze", "  not frozen"]

    def test_freeze_without_a_reason_is_refused_and_freezes_nothing(self, stack: LocalCloud) -> None:
        # When an operator freezes releases with a blank reason
        printed = conveyor(stack, "freeze", "--reason", "  ")
        # Then the command fails, saying a reason is required, and releases are not frozen
        assert printed.status == 1
        assert "a reason is required" in printed.err
        assert conveyor(stack, "status").out.splitlines()[-1] == "  not frozen"

    def test_unfreeze_when_nothing_is_frozen_says_there_is_nothing_to_lift(self, stack: LocalCloud) -> None:
        # When an operator lifts a freeze that is not there
        printed = conveyor(stack, "unfreeze", "--reason", "done")
        # Then the command fails, saying so
        assert (printed.status, printed.err) == (
            1,
            "conveyor unfreeze: releases are not frozen: there is nothing to lift\n",
        )


class TestTheFirstRelease:
    """The first upload crossed MinNewRows: a run trained the first model, the gate passed it, and
    with no endpoint the canary release made it champion as soon as it was released."""

    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls) -> Iterator[LocalCloud]:
        with deployed() as cloud:
            upload(cloud, "first.csv", rows(3000, seed=2))
            cloud.run_until_idle(timeout=300)
            yield cloud

    def test_status_shows_the_run_that_succeeded_and_the_champion_with_its_metric(self, stack: LocalCloud) -> None:
        # When an operator asks for the status
        printed = conveyor(stack, "status")
        # Then each workflow's execution shows as SUCCEEDED
        lines = printed.out.splitlines()
        assert lines[lines.index("  retraining") + 1].split()[:2] == ["run-000001", "SUCCEEDED"]
        assert lines[lines.index("  canary release") + 1].split()[:2] == ["package-1", "SUCCEEDED"]
        # And the champion is package 1, with the gate's measure from its evaluation report
        champion = lines[lines.index("Champion") + 1 : lines.index("Canary") - 1]
        assert champion[0].startswith("  package 1, in service since ")
        metric, value, *on = champion[1].split()
        assert (metric, " ".join(on)) == ("validation:auc", "measured on the test rows")
        assert 0.5 < float(value.rstrip(",")) <= 1.0
        # And the edge release says why it did nothing (the stack has no fleet)
        edge = lines[lines.index("Edge") + 1 : lines.index("Freeze") - 1]
        assert edge[0].startswith("  package-1 SUCCEEDED, started ")
        assert edge[0].endswith('ended in "Edge release off"')
        assert edge[1].startswith("  EdgeThingGroup is empty")

    def test_status_json_is_one_document_with_the_documented_keys(self, stack: LocalCloud) -> None:
        # When a script asks for the status as JSON
        printed = conveyor(stack, "status", "--json", "--limit", "1")
        # Then it is one JSON document, with the documented keys
        document = json.loads(printed.out)
        assert sorted(document) == ["canary", "champion", "edge", "executions", "freeze"]
        # And it holds what the text shows: the run, the champion and its objective, no canary, no freeze
        assert [(e["name"], e["status"]) for e in document["executions"]["retraining"]] == [("run-000001", "SUCCEEDED")]
        assert sorted(document["executions"]) == ["canary_release", "edge_release", "retraining"]
        assert (document["champion"]["version"], document["champion"]["objective"]["name"]) == (1, "validation:auc")
        assert 0.5 < document["champion"]["objective"]["value"] <= 1.0
        assert (document["canary"], document["edge"]["enabled"], document["freeze"]["frozen"]) == (None, False, False)


def test_a_freeze_by_hand_shows_who_and_why_and_no_run_starts_while_it_holds() -> None:
    with deployed() as stack:
        # Given an operator froze releases, with a reason
        frozen = conveyor(stack, "freeze", "--reason", "rotating the training role's keys")
        assert frozen.status == 0
        assert json.loads(frozen.out)["frozen"] is True
        # When the status is asked for
        lines = conveyor(stack, "status").out.splitlines()
        # Then it shows the freeze, why, and who froze it
        freeze = lines[lines.index("Freeze") + 1 :]
        assert freeze[0].startswith("  FROZEN since ")
        assert freeze[1:] == [
            "    why: rotating the training role's keys",
            f"    who: {operator(stack)}",
            "    frozen by hand: `conveyor unfreeze --reason TEXT` lifts it",
        ]
        # And when rows that cross MinNewRows arrive, no run starts
        upload(stack, "while-frozen.csv", rows(3000, seed=3))
        stack.run_until_idle()
        assert executions(stack) == []


def test_lifting_a_freeze_by_hand_lets_the_next_upload_start_a_run() -> None:
    with deployed() as stack:
        # Given releases frozen by hand, and rows that crossed MinNewRows meanwhile
        conveyor(stack, "freeze", "--reason", "maintenance")
        upload(stack, "while-frozen.csv", rows(3000, seed=3))
        stack.run_until_idle()
        # When the operator lifts the freeze, and one more row arrives
        lifted = conveyor(stack, "unfreeze", "--reason", "maintenance done")
        upload(stack, "after.csv", rows(1, seed=4))
        stack.run_until_idle(timeout=300)
        # Then the freeze records who lifted it and why, and a run starts with every row
        assert lifted.status == 0
        lift = json.loads(lifted.out)
        assert (lift["frozen"], lift["lifted_by"], lift["lift_reason"]) == (False, operator(stack), "maintenance done")
        assert [e["name"] for e in executions(stack)] == ["run-000001"]


def test_unfreezing_the_finding_lifts_the_freeze_and_is_announced() -> None:
    with tampered() as (stack, finding_id):
        # Given a finding holds the freeze, and the status names it
        topic = subscribed_queue(stack, stack.outputs["NotificationTopicArn"], "notifications")
        status = conveyor(stack, "status").out
        assert "    held by these findings; acknowledge each: `conveyor unfreeze --finding ID --reason TEXT`" in status
        assert f"      {finding_id}  PutBucketVersioning by arn:aws:iam::123456789012:user/mallory at " in status
        # When the operator acknowledges it through the CLI
        printed = conveyor(stack, "unfreeze", "--finding", finding_id, "--reason", "mallory's keys revoked")
        # Then the unfreeze function's report says who acknowledged it, and releases are no longer frozen
        assert printed.status == 0
        report = json.loads(printed.out)
        assert (report["finding_id"], report["acknowledged_by"], report["frozen"]) == (
            finding_id,
            operator(stack),
            False,
        )
        lines = conveyor(stack, "status").out.splitlines()
        assert lines[-1].startswith("  not frozen: lifted ")
        assert lines[-1].endswith(f" by {operator(stack)}: mallory's keys revoked")
        # And the topic announced it, as the function does
        [announcement] = messages(stack, topic)
        assert announcement["Subject"] == "conveyor dev: releases unfrozen"
        assert f"{operator(stack)} acknowledged security finding {finding_id}" in announcement["Message"]


def test_unfreezing_an_unknown_finding_fails_naming_the_findings_that_hold_the_freeze() -> None:
    with tampered() as (stack, finding_id):
        # When the operator names a finding that does not hold the freeze
        printed = conveyor(stack, "unfreeze", "--finding", "no-such-finding", "--reason", "looked at it")
        # Then the command fails with the function's reason, naming the finding that does
        assert (printed.status, printed.out) == (1, "")
        assert printed.err == (
            "conveyor unfreeze: the unfreeze function refused (FindingNotFreezingError): finding no-such-finding "
            f"does not hold the freeze; the findings holding it: {finding_id}\n"
        )
        # And releases stay frozen
        assert "  FROZEN since " in conveyor(stack, "status").out
