"""``conveyor status`` on what the local cloud's flow tests do not reach: an edge release read from
its history while it runs or after it failed, a canary on a live endpoint, a finished rollout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from conveyor import aws
from conveyor.state.canary import CanaryRecord, CanaryState, lock_endpoint, start_canary
from conveyor_tools.status import (
    CanaryStatus,
    EdgeStatus,
    FreezeStatus,
    Rollout,
    StackStatus,
    canary_status,
    edge_status,
)
from conveyor_tools.status_text import render
from tests.conftest import ROOT
from tests.unit.conftest import create_state_table

STARTED = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:conveyor-dev-EdgeRelease"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:conveyor-dev-EdgeRelease:package-3"
PUBLISHED = {
    "model_package_version": 3,
    "plan": {"value": {"enabled": True, "reason": "", "component_name": "conveyor-dev-inference"}},
    "publication": {
        "value": {
            "deployed": True,
            "reason": "",
            "component_name": "conveyor-dev-inference",
            "component_version": "1.3.0",
            "iot_job_id": "job-3",
            "compiled_targets": ["ml_c5"],
            "failed_targets": [{"label": "jetson_nano", "status": "FAILED", "reason": "unsupported"}],
        }
    },
}


class StubbedStack:
    """A stack whose clients are given: stubbed with botocore's Stubber, or moto's."""

    def __init__(self, outputs: dict[str, str], **clients: Any) -> None:
        self.outputs = outputs
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients[service]


@pytest.fixture
def stepfunctions() -> Iterator[tuple[StubbedStack, Stubber]]:
    client = boto3.client("stepfunctions")
    with Stubber(client) as stub:
        yield StubbedStack({"EdgeReleaseStateMachineArn": MACHINE}, stepfunctions=client), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def endpoint() -> Iterator[tuple[StubbedStack, Stubber]]:
    """A state table in moto, and a SageMaker client that answers DescribeEndpoint from a Stubber."""
    sagemaker = boto3.client("sagemaker")
    with mock_aws(), Stubber(sagemaker) as stub:
        table = create_state_table()
        yield StubbedStack({"StateTableName": table}, dynamodb=boto3.client("dynamodb"), sagemaker=sagemaker), stub
        stub.assert_no_pending_responses()
    aws.client.cache_clear()


def execution(status: str) -> dict[str, Any]:
    return {
        "executions": [
            {
                "executionArn": EXECUTION,
                "stateMachineArn": MACHINE,
                "name": "package-3",
                "status": status,
                "startDate": STARTED,
            }
        ]
    }


def event(number: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"id": number, "timestamp": STARTED, "type": kind, **details}


def entered(number: int, name: str) -> dict[str, Any]:
    return event(number, "TaskStateEntered", stateEnteredEventDetails={"name": name, "input": "{}"})


def exited(number: int, name: str, document: dict[str, Any]) -> dict[str, Any]:
    return event(number, "TaskStateExited", stateExitedEventDetails={"name": name, "output": json.dumps(document)})


def history(arguments: dict[str, Any], events: list[dict[str, Any]], next_token: str | None = None) -> tuple:
    response: dict[str, Any] = {"events": events} | ({"nextToken": next_token} if next_token else {})
    return "get_execution_history", response, arguments


def test_an_edge_release_still_rolling_out_shows_its_state_and_what_it_published(
    stepfunctions: tuple[StubbedStack, Stubber],
) -> None:
    # Given an edge release watching its rollout, whose newest history page holds only the watch's retries
    stack, stub = stepfunctions
    stub.add_response("list_executions", execution("RUNNING"), {"stateMachineArn": MACHINE, "maxResults": 1})
    first = {"executionArn": EXECUTION, "reverseOrder": True, "maxResults": 100}
    retry = {"error": "RolloutInProgressError", "cause": "IoT job job-3 is IN_PROGRESS"}
    failed = event(42, "TaskFailed", taskFailedEventDetails={"resourceType": "lambda", "resource": "invoke"} | retry)
    stub.add_response(*history(first, [failed], next_token="older"))
    older = [exited(39, "Publish the component", PUBLISHED), entered(40, "Watch the rollout")]
    stub.add_response(*history(first | {"nextToken": "older"}, older))
    # When its status is read
    edge = edge_status(stack)
    # Then it is in the watch, with the component version and IoT job it published and the targets
    assert edge is not None
    assert (edge.status, edge.state, edge.component_version, edge.iot_job_id) == (
        "RUNNING",
        "Watch the rollout",
        "1.3.0",
        "job-3",
    )
    assert (edge.compiled_targets, edge.failed_targets, edge.rollout) == (["ml_c5"], ["jetson_nano"], None)
    assert render_edge(edge) == [
        '  package-3 RUNNING, started 2026-11-26 12:00:00 UTC, in "Watch the rollout"',
        "  component version 1.3.0, IoT job job-3",
        "  compiled for: ml_c5; failed: jetson_nano",
    ]


def test_a_failed_edge_release_shows_its_error_and_cause(stepfunctions: tuple[StubbedStack, Stubber]) -> None:
    stack, stub = stepfunctions
    stub.add_response("list_executions", execution("FAILED"), {"stateMachineArn": MACHINE, "maxResults": 1})
    failure = {"error": "ComponentNotDeployableError", "cause": "the recipe was refused"}
    events = [
        exited(50, "Notify failure", PUBLISHED | {"error": failure}),
        event(51, "FailStateEntered", stateEnteredEventDetails={"name": "Fail release", "input": "{}"}),
        event(52, "ExecutionFailed", executionFailedEventDetails=failure),
    ]
    stub.add_response(*history({"executionArn": EXECUTION, "reverseOrder": True, "maxResults": 100}, events))
    edge = edge_status(stack)
    assert edge is not None
    assert (edge.state, edge.error, edge.cause) == (
        "Fail release",
        "ComponentNotDeployableError",
        "the recipe was refused",
    )
    assert render_edge(edge)[-1] == "  ComponentNotDeployableError: the recipe was refused"


def test_a_stack_without_an_edge_release_has_none(stepfunctions: tuple[StubbedStack, Stubber]) -> None:
    stack, stub = stepfunctions
    stub.add_response("list_executions", {"executions": []}, {"stateMachineArn": MACHINE, "maxResults": 1})
    assert edge_status(stack) is None


def test_status_reads_the_keys_the_edge_workflow_writes() -> None:
    # The plan, the publication and the rollout are read from the state document by these paths
    definition = json.loads((ROOT / "statemachines/edge_release.asl.json").read_text(encoding="utf-8"))
    written = {state.get("ResultPath") for state in definition["States"].values()}
    assert {"$.plan", "$.publication", "$.rollout"} <= written


def status(**parts: Any) -> StackStatus:
    empty = {"executions": {}, "champion": None, "canary": None, "edge": None, "freeze": FreezeStatus()}
    return StackStatus.model_validate(empty | parts)


def section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title) + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def render_edge(edge: EdgeStatus) -> list[str]:
    return section(render(status(edge=edge), stack_name="conveyor-dev", limit=5), "Edge")


def test_a_baking_canary_shows_its_state_and_each_variants_share_of_traffic() -> None:
    canary = CanaryStatus(
        version=4,
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/4",
        state="BAKING",
        state_changed_at=STARTED,
        holds_endpoint=True,
        endpoint_name="conveyor-dev",
        endpoint_status="InService",
        weights={"p3": 0.9, "p4": 0.1},
    )
    lines = render(status(canary=canary), stack_name="conveyor-dev", limit=5)
    assert section(lines, "Canary") == [
        "  package 4 BAKING since 2026-11-26 12:00:00 UTC, holds the endpoint conveyor-dev",
        "  endpoint conveyor-dev InService: p3 90 %, p4 10 %",
    ]


def test_a_rolled_back_canary_says_why_and_an_endpoint_that_is_gone_says_so() -> None:
    canary = CanaryStatus(
        version=5,
        package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/5",
        state="ROLLED_BACK",
        state_changed_at=STARTED,
        reason="model errors above CanaryErrorThreshold",
        alarm_name="conveyor-dev-canary-p5-errors",
        holds_endpoint=False,
        endpoint_name="conveyor-dev",
        endpoint_status=None,
        weights={},
    )
    assert section(render(status(canary=canary), stack_name="conveyor-dev", limit=5), "Canary") == [
        "  package 5 ROLLED_BACK since 2026-11-26 12:00:00 UTC",
        "  why: model errors above CanaryErrorThreshold (alarm conveyor-dev-canary-p5-errors)",
        "  endpoint conveyor-dev: does not exist",
    ]


def test_a_finished_rollout_counts_the_devices_in_each_state_it_reached() -> None:
    edge = EdgeStatus(
        execution="package-3",
        status="SUCCEEDED",
        started_at=STARTED,
        state="Edge release finished",
        enabled=True,
        component_version="1.3.0",
        iot_job_id="job-3",
        compiled_targets=["ml_c5"],
        rollout=Rollout(
            status="CANCELED",
            devices={"succeeded": 3, "failed": 2, "queued": 0},
            reason="abort criteria met",
        ),
    )
    assert render_edge(edge)[-1] == "  rollout CANCELED (failed 2, succeeded 3): abort criteria met"


def baking(table: str, version: int) -> None:
    """Package ``version``'s canary, holding the endpoint and baking."""
    record = CanaryRecord(
        version=version,
        package_arn=f"arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/{version}",
        endpoint_name="conveyor-dev",
        state=CanaryState.BAKING,
        state_changed_at=STARTED,
        challenger_variant=f"p{version}",
        champion_variant=f"p{version - 1}",
    )
    start_canary(table, record)
    lock_endpoint(table, version, now=STARTED)


def test_the_canary_holding_the_endpoint_is_read_with_each_variants_current_weight(
    endpoint: tuple[StubbedStack, Stubber],
) -> None:
    # Given package 4's canary baking beside package 3 on the endpoint
    stack, stub = endpoint
    baking(stack.outputs["StateTableName"], 4)
    variants = [{"VariantName": "p3", "CurrentWeight": 0.9}, {"VariantName": "p4", "CurrentWeight": 0.1}]
    stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": "conveyor-dev",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/conveyor-dev",
            "EndpointConfigName": "conveyor-dev-p4-canary",
            "EndpointStatus": "InService",
            "CreationTime": STARTED,
            "LastModifiedTime": STARTED,
            "ProductionVariants": variants,
        },
        {"EndpointName": "conveyor-dev"},
    )
    # When the status reads it
    canary = canary_status(stack)
    # Then it is package 4's, baking, holding the endpoint, with the weights the endpoint has now
    assert canary is not None
    assert (canary.version, canary.state, canary.holds_endpoint, canary.endpoint_status) == (
        4,
        "BAKING",
        True,
        "InService",
    )
    assert canary.weights == {"p3": 0.9, "p4": 0.1}


def test_a_canary_whose_endpoint_is_gone_reads_without_weights(endpoint: tuple[StubbedStack, Stubber]) -> None:
    stack, stub = endpoint
    baking(stack.outputs["StateTableName"], 4)
    stub.add_client_error(
        "describe_endpoint",
        service_error_code="ValidationException",
        service_message="Could not find endpoint conveyor-dev.",
        expected_params={"EndpointName": "conveyor-dev"},
    )
    canary = canary_status(stack)
    assert canary is not None
    assert (canary.endpoint_status, canary.weights) == (None, {})
