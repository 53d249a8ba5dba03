"""Release entry through the Model Registry, through the local cloud: the registry's own
"SageMaker Model Package State Change" events start the releases, in both approval modes.

The start_release function reacts to every Approved package of the stack's group, whoever approved
it: the gate (ApprovalMode automatic), ``conveyor approve``, or the SageMaker API directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.state.control import set_frozen
from conveyor_tools.approval import ApprovalError, decide
from conveyor_tools.operator_cli import main as conveyor
from conveyor_tools.stack import executions, messages, model_packages
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import DELIVERIES, freeze_releases, queue, run, snapshot, subscribed_queue

pytestmark = pytest.mark.localcloud

AUTOMATIC = {"NumRound": "30", "MinNewRows": "1000000"}
MANUAL = AUTOMATIC | {"ApprovalMode": "manual"}
RELEASES = ("EdgeReleaseStateMachineArn", "CanaryReleaseStateMachineArn")


class Watched:
    """The stack, with what it announces on the bus and the topic caught in queues."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.bus, bus_arn = queue(cloud, "announcements")
        events = cloud.client("events")
        events.put_rule(Name="announcements", EventPattern=json.dumps({"source": ["conveyor"]}))
        events.put_targets(Rule="announcements", Targets=[{"Id": "q", "Arn": bus_arn}])
        self.registry, registry_arn = queue(cloud, "registry")
        events.put_rule(
            Name="registry",
            EventPattern=json.dumps(
                {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]}
            ),
        )
        events.put_targets(Rule="registry", Targets=[{"Id": "q", "Arn": registry_arn}])
        self.topic = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "notifications")

    def announced(self) -> list[tuple[str, dict[str, Any]]]:
        """What the stack announced since the last call, but the canary's own outcomes (its tests read those)."""
        found = [(m["detail-type"], m["detail"]) for m in messages(self.cloud, self.bus)]
        return [(kind, detail) for kind, detail in found if not kind.startswith("Canary ")]

    def released(self) -> dict[str, list[tuple[str, str]]]:
        return {machine: [(e["name"], e["status"]) for e in executions(self.cloud, machine)] for machine in RELEASES}


def deployed(parameters: dict[str, str], delivery: str = "ordered") -> Iterator[Watched]:
    with LocalCloud.from_template(TEMPLATE, parameters=parameters, delivery=DELIVERIES[delivery]) as cloud:
        yield Watched(cloud)


@pytest.fixture(params=list(DELIVERIES))
def automatic(request: pytest.FixtureRequest) -> Iterator[Watched]:
    yield from deployed(AUTOMATIC, request.param)


@pytest.fixture
def manual() -> Iterator[Watched]:
    yield from deployed(MANUAL)


def first_run(stack: Watched) -> dict[str, Any]:
    result = run(stack.cloud, snapshot(stack.cloud, "run-000001"))
    assert result["status"] == "SUCCEEDED", result
    [package] = model_packages(stack.cloud)
    return package


def invoke_start_release(stack: Watched, event: dict[str, Any]) -> dict[str, Any]:
    reply = stack.cloud.client("lambda").invoke(
        FunctionName=stack.cloud.outputs["StartReleaseFunctionName"], Payload=json.dumps(event)
    )
    answer: dict[str, Any] = json.loads(reply["Payload"].read())
    return answer


def test_automatic_mode_releases_an_approved_model_once_per_package_version(automatic: Watched) -> None:
    # Given the gate approves the first model (automatic mode)
    package = first_run(automatic)
    assert package["ModelApprovalStatus"] == "Approved"
    # Then the registry's event started both releases, named by the package version, once
    assert automatic.released() == {machine: [("package-1", "SUCCEEDED")] for machine in RELEASES}
    announced = dict(automatic.announced())
    # (the stack has no fleet: the edge release says so and ends)
    assert sorted(announced) == ["Edge Release Skipped", "Model Approved", "Release Started"]
    assert announced["Release Started"]["model_package_arn"] == package["ModelPackageArn"]
    # When the registry's Approved event is delivered twice more
    [approval] = [
        e for e in messages(automatic.cloud, automatic.registry) if e["detail"]["ModelApprovalStatus"] == "Approved"
    ]
    replies = [invoke_start_release(automatic, approval) for _ in range(2)]
    automatic.cloud.run_until_idle()
    # Then nothing more starts, and nothing more is announced
    assert [reply["outcome"] for reply in replies] == ["duplicate", "duplicate"]
    assert automatic.released() == {machine: [("package-1", "SUCCEEDED")] for machine in RELEASES}
    assert automatic.announced() == []


def test_manual_mode_waits_for_a_person_and_says_how_to_decide(manual: Watched) -> None:
    package = first_run(manual)
    # The model passed the gate, and waits: nothing is released
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert manual.released() == {machine: [] for machine in RELEASES}
    assert [kind for kind, _ in manual.announced()] == ["Model Awaiting Approval"]
    # The topic says how to approve or reject it, and where its evaluation report is
    [message] = [m["Message"] for m in messages(manual.cloud, manual.topic)]
    arn = package["ModelPackageArn"]
    assert f"conveyor approve {arn}" in message
    assert f"conveyor reject {arn}" in message
    assert "s3://" in message
    assert "evaluation.json" in message


def test_conveyor_approve_releases_the_waiting_package_and_records_who_and_why(manual: Watched) -> None:
    package = first_run(manual)
    manual.announced()
    # When an operator approves it by its version number
    status = conveyor(["approve", "1", "--reason", "reviewed the evaluation report"], connect=lambda *_: manual.cloud)
    manual.cloud.run_until_idle()
    # Then it is Approved, with who decided and why, and both releases started
    assert status == 0
    described = manual.cloud.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["ModelApprovalStatus"] == "Approved"
    operator = manual.cloud.client("sts").get_caller_identity()["Arn"]
    assert described["ApprovalDescription"] == f"Approved by {operator}: reviewed the evaluation report"
    assert manual.released() == {machine: [("package-1", "SUCCEEDED")] for machine in RELEASES}
    assert sorted(kind for kind, _ in manual.announced()) == ["Edge Release Skipped", "Release Started"]


def test_conveyor_reject_marks_the_package_rejected_and_releases_nothing(manual: Watched) -> None:
    package = first_run(manual)
    outcome = decide(manual.cloud, package["ModelPackageArn"], "Rejected", "the feature pipeline was broken")
    manual.cloud.run_until_idle()
    described = manual.cloud.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert (described["ModelApprovalStatus"], outcome["previous_status"]) == ("Rejected", "PendingManualApproval")
    assert described["ApprovalDescription"].endswith(": the feature pipeline was broken")
    assert manual.released() == {machine: [] for machine in RELEASES}


def test_a_package_approved_through_the_sagemaker_api_is_released(manual: Watched) -> None:
    package = first_run(manual)
    manual.cloud.client("sagemaker").update_model_package(
        ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved"
    )
    manual.cloud.run_until_idle()
    assert manual.released() == {machine: [("package-1", "SUCCEEDED")] for machine in RELEASES}


def test_an_approval_while_frozen_starts_nothing_and_says_why_until_approved_again(manual: Watched) -> None:
    package = first_run(manual)
    manual.announced()
    freeze_releases(manual.cloud)
    decide(manual.cloud, "1", "Approved", "looks good")
    manual.cloud.run_until_idle()
    # Nothing started; the package waits again, and the bus says why
    assert manual.released() == {machine: [] for machine in RELEASES}
    described = manual.cloud.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    [(kind, detail)] = manual.announced()
    assert kind == "Release Refused"
    assert "releases are frozen" in detail["reason"]
    # Once unfrozen, approving again releases it
    set_frozen(
        manual.cloud.outputs["StateTableName"],
        frozen=False,
        reason="finding resolved",
        now=manual.cloud.clock.now(),
        dynamodb=manual.cloud.client("dynamodb"),
    )
    decide(manual.cloud, "1", "Approved", "finding resolved")
    manual.cloud.run_until_idle()
    assert manual.released() == {machine: [("package-1", "SUCCEEDED")] for machine in RELEASES}


def test_a_package_rejected_after_its_release_is_announced_withdrawn_once(manual: Watched) -> None:
    first_run(manual)
    decide(manual.cloud, "1", "Approved", "looks good")
    manual.cloud.run_until_idle()
    manual.announced()
    decide(manual.cloud, "1", "Rejected", "customers complain")
    manual.cloud.run_until_idle()
    [(kind, detail)] = manual.announced()
    assert kind == "Release Withdrawn"
    assert {w["status"] for w in detail["workflows"].values()} == {"SUCCEEDED"}
    assert all("had finished" in w["note"] for w in detail["workflows"].values())


def test_a_release_of_a_package_rejected_since_stops_before_it_changes_anything(manual: Watched) -> None:
    # Given a package rejected after approval, and a release workflow started for it anyway
    package = first_run(manual)
    decide(manual.cloud, "1", "Rejected", "changed our mind")
    manual.announced()
    sfn = manual.cloud.client("stepfunctions")
    release_input = {"model_package_arn": package["ModelPackageArn"], "model_package_version": 1}
    for machine in RELEASES:
        sfn.start_execution(stateMachineArn=manual.cloud.outputs[machine], name="late", input=json.dumps(release_input))
    manual.cloud.run_until_idle()
    # Then each stops at its approval check and says so
    stopped = manual.announced()
    assert sorted(detail["workflow"] for _, detail in stopped) == ["canary_release", "edge_release"]
    assert {(kind, detail["approval_status"]) for kind, detail in stopped} == {("Release Stopped", "Rejected")}


def test_conveyor_approve_refuses_a_package_the_gate_rejected(manual: Watched) -> None:
    first_run(manual)
    decide(manual.cloud, "1", "Rejected", "no")
    with pytest.raises(ApprovalError, match="is Rejected; it can be approved only from PendingManualApproval"):
        decide(manual.cloud, "1", "Approved", "yes after all")


def test_a_release_workflow_refuses_to_start_while_frozen(manual: Watched) -> None:
    package = first_run(manual)
    freeze_releases(manual.cloud)
    sfn = manual.cloud.client("stepfunctions")
    release_input = {"model_package_arn": package["ModelPackageArn"], "model_package_version": 1}
    arn = sfn.start_execution(
        stateMachineArn=manual.cloud.outputs["CanaryReleaseStateMachineArn"],
        name="frozen",
        input=json.dumps(release_input),
    )["executionArn"]
    manual.cloud.run_until_idle()
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["error"]) == ("FAILED", "ReleasesFrozen")
