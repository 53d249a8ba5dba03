"""The endpoint canary through the local cloud: real models served by weight, real alarms, real rollback.

Each test trains two models for real (manual approval, so the test decides when each release
starts), serves the first alone, then approves the second: it bakes beside the champion at
CanaryPercent while steady traffic runs on stack time. Stack time runs at wall speed during the
bake (no idle compression), so only ``cloud.advance`` moves the bake forward.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from conveyor.schema import load_schema
from conveyor.state.canary import CanaryRecord, CanaryState, get_canary
from conveyor.state.champion import current_champion
from conveyor_tools.approval import decide
from conveyor_tools.stack import evaluation_report, executions, keys, messages, model_packages
from conveyor_tools.synthetic import records
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import freeze_releases, queue, run, snapshot

pytestmark = pytest.mark.localcloud

BAKE_MINUTES = 6
PARAMETERS = {
    "NumRound": "30",
    "MinNewRows": "1000000",
    "ApprovalMode": "manual",
    # Each run trains on fresh rows (seeds 11, 12, 13); two equally good models scored on a run's ~300
    # test rows can differ by more than the default 0.01. These tests are about releases, not the gate.
    "RegressionTolerance": "0.05",
    "BakeMinutes": str(BAKE_MINUTES),
    "CanaryPercent": "20",
    "DataCapturePercent": "100",
}
ENDPOINT = "conveyor-dev"
POLL_SECONDS = 0.05
SCHEMA = load_schema("predictive_maintenance")
# Requests as the endpoint's clients send them: the schema's features, no label.
ROWS = [[row[feature.name] for feature in SCHEMA.features] for row in records(50, seed=3)]


class Canary:
    """A stack serving package 1, with package 2 registered and waiting for approval."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.bus, bus_arn = queue(cloud, "canary-events")
        events = cloud.client("events")
        events.put_rule(Name="canary-events", EventPattern=json.dumps({"source": ["conveyor"]}))
        events.put_targets(Rule="canary-events", Targets=[{"Id": "q", "Arn": bus_arn}])
        self.table = cloud.outputs["StateTableName"]

    def release_champion(self) -> None:
        assert run(self.cloud, snapshot(self.cloud, "run-000001"))["status"] == "SUCCEEDED"
        decide(self.cloud, "1", "Approved", "first model")
        self.cloud.run_until_idle()
        assert self.weights() == {"p1": 1.0}
        assert run(self.cloud, snapshot(self.cloud, "run-000002", seed=12))["status"] == "SUCCEEDED"
        self.announced()

    def approve_challenger(self) -> None:
        # The bake's timeout runs on stack time at wall speed from here: only advance() moves it.
        self.cloud.clock.scale = 1.0
        decide(self.cloud, "2", "Approved", "second model")
        self.wait_for(lambda record: record.state == CanaryState.BAKING)
        assert self.weights() == {"p1": 0.8, "p2": 0.2}

    def wait_for(self, done: Any, timeout: float = 30.0) -> CanaryRecord:
        deadline = time.monotonic() + timeout
        while True:
            record = get_canary(self.table, 2, dynamodb=self.cloud.client("dynamodb"))
            if record is not None and done(record):
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"canary of package 2 is {record}")
            # Real time between looks: a read in a tight loop takes the interpreter from the workflow it waits for.
            time.sleep(POLL_SECONDS)

    def bake(self, minutes: int) -> None:
        """Advance stack time a minute at a time until the canary ends or ``minutes`` pass."""
        for _ in range(minutes):
            self.cloud.advance(minutes=1)
            record = get_canary(self.table, 2, dynamodb=self.cloud.client("dynamodb"))
            if record is not None and record.state in (CanaryState.PROMOTED, CanaryState.ROLLED_BACK):
                break
        self.cloud.traffic.stop()
        self.cloud.clock.scale = 1e-4
        self.cloud.run_until_idle(timeout=60)

    def weights(self) -> dict[str, float]:
        """Each variant's share of the endpoint's traffic."""
        endpoint = self.cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
        total = sum(v["CurrentWeight"] for v in endpoint["ProductionVariants"])
        return {v["VariantName"]: round(v["CurrentWeight"] / total, 3) for v in endpoint["ProductionVariants"]}

    def announced(self) -> list[str]:
        return [m["detail-type"] for m in messages(self.cloud, self.bus)]

    def record(self) -> CanaryRecord:
        record = get_canary(self.table, 2, dynamodb=self.cloud.client("dynamodb"))
        assert record is not None
        return record

    def package(self, version: int) -> dict[str, Any]:
        [package] = [p for p in model_packages(self.cloud) if p["ModelPackageArn"].endswith(f"/{version}")]
        return package

    def scaled(self) -> dict[str, list[str]]:
        """Each auto-scaled variant of the endpoint, with its scaling policies' names."""
        scaling = self.cloud.client("application-autoscaling")
        targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
        return {
            target["ResourceId"].removeprefix(f"endpoint/{ENDPOINT}/variant/"): [
                policy["PolicyName"] for policy in policies if policy["ResourceId"] == target["ResourceId"]
            ]
            for target in targets
        }


def released(parameters: dict[str, str]) -> Iterator[Canary]:
    with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
        stack = Canary(cloud)
        stack.release_champion()
        yield stack


@pytest.fixture
def canary() -> Iterator[Canary]:
    yield from released(PARAMETERS)


@pytest.fixture
def scaled_canary() -> Iterator[Canary]:
    """The same stack with EndpointAutoScaling enabled: the champion p1 scales."""
    parameters = PARAMETERS | {
        "EndpointAutoScaling": "enabled",
        "EndpointMinInstances": "1",
        "EndpointMaxInstances": "3",
    }
    yield from released(parameters)


def test_a_healthy_challenger_is_promoted_after_the_bake(canary: Canary) -> None:
    canary.approve_challenger()
    canary.cloud.traffic.start(ENDPOINT, ROWS, per_second=2)
    canary.bake(BAKE_MINUTES + 2)
    # The endpoint holds only the challenger, and the registry, the champion pointer and the endpoint agree
    assert canary.record().state == CanaryState.PROMOTED
    assert canary.weights() == {"p2": 1.0}
    champion = current_champion(canary.table, dynamodb=canary.cloud.client("dynamodb"))
    assert champion is not None
    assert (champion.version, champion.variant_name) == (2, "p2")
    assert canary.package(2)["ModelApprovalStatus"] == "Approved"
    assert "Canary Promoted" in canary.announced()
    # Both variants served while it baked, and neither failed
    served = {request.variant for request in canary.cloud.traffic.log}
    assert served == {"p1", "p2"}
    assert all(request.ok for request in canary.cloud.traffic.log)
    # Every request and response was captured for later disputes, encrypted with the stack's key
    [capture, *_] = keys(canary.cloud, "capture/")
    head = canary.cloud.client("s3").head_object(Bucket=canary.cloud.outputs["DataBucketName"], Key=capture)
    assert head["ServerSideEncryption"] == "aws:kms"
    # Its alarms are gone with the canary
    alarms = canary.cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix="conveyor-dev-canary-")
    assert alarms["MetricAlarms"] == []


def rolled_back_by(canary: Canary, **faults: float) -> CanaryRecord:
    canary.approve_challenger()
    canary.cloud.endpoint_faults.variant(ENDPOINT, "p2", **faults)
    canary.cloud.traffic.start(ENDPOINT, ROWS, per_second=2)
    canary.bake(BAKE_MINUTES)
    record = canary.record()
    assert record.state == CanaryState.ROLLED_BACK, record
    return record


def test_a_challenger_returning_errors_is_rolled_back_within_one_evaluation_period(canary: Canary) -> None:
    record = rolled_back_by(canary, error_rate=0.2)
    assert record.alarm_changed_at is not None
    assert record.weight_zero_at is not None
    # Its weight reached 0 within 5 s of the alarm's change to ALARM (stack time) ...
    assert timedelta(0) <= record.weight_zero_at - record.alarm_changed_at <= timedelta(seconds=5)
    # ... and within (EvaluationPeriods + 1) x Period of its first failing request
    first_failure = min(r.at for r in canary.cloud.traffic.log if r.variant == "p2" and not r.ok)
    assert record.weight_zero_at - first_failure <= timedelta(seconds=2 * 60)
    # No request was served by the challenger after its weight reached 0
    assert [r for r in canary.cloud.traffic.log if r.variant == "p2" and r.at > record.weight_zero_at] == []
    # The champion serves everything, alone; the package is Rejected with the alarm and its values
    assert canary.weights() == {"p1": 1.0}
    package = canary.cloud.client("sagemaker").describe_model_package(
        ModelPackageName=canary.package(2)["ModelPackageArn"]
    )
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "Rolled back by the endpoint canary: alarm conveyor-dev-canary-p2-" in package["ApprovalDescription"]
    assert "Threshold Crossed" in package["ApprovalDescription"]
    champion = current_champion(canary.table, dynamodb=canary.cloud.client("dynamodb"))
    assert champion is not None
    assert champion.version == 1
    assert "Canary Rolled Back" in canary.announced()


def test_a_challenger_that_is_only_slower_is_rolled_back(canary: Canary) -> None:
    record = rolled_back_by(canary, latency_ms=2000)
    assert record.alarm_name == "conveyor-dev-canary-p2-latency-p99"
    assert canary.weights() == {"p1": 1.0}


def test_the_same_alarm_event_three_times_rolls_back_once(canary: Canary) -> None:
    record = rolled_back_by(canary, error_rate=0.5)
    assert record.alarm_name is not None
    replies = [invoke_controller(canary, alarm_event(canary, record.alarm_name)) for _ in range(2)]
    assert [reply["action"] for reply in replies] == ["ignored", "ignored"]
    assert canary.record() == record
    assert canary.announced().count("Canary Rolled Back") == 1


def test_the_next_run_is_gated_against_the_model_in_service_not_the_rolled_back_one(canary: Canary) -> None:
    rolled_back_by(canary, error_rate=0.5)
    assert run(canary.cloud, snapshot(canary.cloud, "run-000003", seed=13))["status"] == "SUCCEEDED"
    report = evaluation_report(canary.cloud, canary.package(3))
    assert report["champion"]["package_arn"] == canary.package(1)["ModelPackageArn"]


def test_a_freeze_during_the_bake_rolls_the_canary_back_before_promotion(canary: Canary) -> None:
    canary.approve_challenger()
    freeze_releases(canary.cloud)
    canary.bake(BAKE_MINUTES + 2)
    assert canary.record().state == CanaryState.ROLLED_BACK
    assert "ReleasesFrozen" in (canary.record().reason or "")
    assert canary.weights() == {"p1": 1.0}


def test_an_update_sagemaker_rolls_back_silently_is_a_failure(canary: Canary) -> None:
    canary.cloud.endpoint_faults.fail_next_update.add(ENDPOINT)
    canary.cloud.clock.scale = 1.0
    decide(canary.cloud, "2", "Approved", "second model")
    canary.cloud.clock.scale = 1e-4
    canary.cloud.run_until_idle(timeout=60)
    [execution] = [e for e in executions(canary.cloud, "CanaryReleaseStateMachineArn") if e["name"] == "package-2"]
    assert execution["status"] == "SUCCEEDED"
    record = canary.record()
    assert record.state == CanaryState.ROLLED_BACK
    assert "SageMaker rolled the update back" in (record.reason or "")
    assert canary.weights() == {"p1": 1.0}


def test_an_alarm_just_before_promotion_wins_and_the_promotion_is_refused(canary: Canary) -> None:
    # Given the canary baking, and its errors alarm firing just before the bake would end
    canary.approve_challenger()
    for _ in range(BAKE_MINUTES - 1):
        canary.cloud.advance(minutes=1)
    reply = invoke_controller(canary, alarm_event(canary, "conveyor-dev-canary-p2-errors"))
    # Then the alarm's rollback wins, and the promotion the bake's end would start is refused
    assert reply["action"] == "rolled_back"
    refused = invoke_controller(
        canary, {"step": "promote", "version": 2, "package_arn": canary.package(2)["ModelPackageArn"]}
    )
    assert refused["errorType"] == "CanaryStateError"
    canary.bake(3)
    assert canary.record().state == CanaryState.ROLLED_BACK
    assert canary.weights() == {"p1": 1.0}


def test_an_alarm_just_after_promotion_began_changes_nothing(canary: Canary) -> None:
    # Given the bake over and the promotion begun (the canary PROMOTING)
    canary.approve_challenger()
    canary.bake(BAKE_MINUTES + 2)
    assert canary.record().state == CanaryState.PROMOTED
    # When the alarm's event arrives after all
    reply = invoke_controller(canary, alarm_event(canary, "conveyor-dev-canary-p2-errors"))
    # Then it changes nothing: the challenger keeps all the traffic and stays champion
    assert (reply["action"], reply["state"]) == ("ignored", "PROMOTED")
    assert canary.weights() == {"p2": 1.0}
    champion = current_champion(canary.table, dynamodb=canary.cloud.client("dynamodb"))
    assert champion is not None
    assert champion.version == 2


def test_a_second_approval_waits_for_the_baking_canary_then_canaries_against_the_new_champion(canary: Canary) -> None:
    assert run(canary.cloud, snapshot(canary.cloud, "run-000003", seed=13))["status"] == "SUCCEEDED"
    canary.approve_challenger()
    decide(canary.cloud, "3", "Approved", "third model")
    # Package 3 waits: the endpoint still runs package 2's canary beside the champion
    canary.cloud.advance(minutes=2)
    assert get_canary(canary.table, 3, dynamodb=canary.cloud.client("dynamodb")) is None
    assert canary.weights() == {"p1": 0.8, "p2": 0.2}
    # Once package 2 is promoted, package 3 bakes beside it
    for _ in range(BAKE_MINUTES + 4):
        canary.cloud.advance(minutes=1)
        third = get_canary(canary.table, 3, dynamodb=canary.cloud.client("dynamodb"))
        if third is not None and third.state == CanaryState.BAKING:
            break
    assert third is not None
    assert (third.state, third.champion_variant) == (CanaryState.BAKING, "p2")
    assert canary.weights() == {"p2": 0.8, "p3": 0.2}


def test_without_an_endpoint_the_release_records_no_endpoint_and_the_package_is_champion() -> None:
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS | {"EndpointEnabled": "false"}) as cloud:
        assert run(cloud, snapshot(cloud, "run-000001"))["status"] == "SUCCEEDED"
        decide(cloud, "1", "Approved", "edge-only")
        cloud.run_until_idle()
        assert cloud.client("sagemaker").list_endpoints()["Endpoints"] == []
        champion = current_champion(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))
        assert champion is not None
        assert (champion.version, champion.variant_name) == (1, None)
        [execution] = executions(cloud, "CanaryReleaseStateMachineArn")
        assert execution["status"] == "SUCCEEDED"


def invoke_controller(canary: Canary, event: dict[str, Any]) -> dict[str, Any]:
    reply = canary.cloud.client("lambda").invoke(
        FunctionName=canary.cloud.outputs["CanaryControllerFunctionName"], Payload=json.dumps(event)
    )
    answer: dict[str, Any] = json.loads(reply["Payload"].read())
    return answer


def alarm_event(canary: Canary, alarm: str) -> dict[str, Any]:
    """The event CloudWatch sends when ``alarm`` goes to ALARM now."""
    return {
        "version": "0",
        "id": f"{alarm}-alarm",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "detail": {
            "alarmName": alarm,
            "state": {"value": "ALARM", "reason": "a test", "timestamp": canary.cloud.clock.now().isoformat()},
        },
    }


def test_with_auto_scaling_a_promoted_challenger_scales_in_the_champions_place(scaled_canary: Canary) -> None:
    assert scaled_canary.scaled() == {"p1": ["conveyor-dev-p1-invocations-per-instance"]}
    scaled_canary.approve_challenger()
    # The champion stays scaled while the challenger bakes beside it
    assert scaled_canary.scaled() == {"p1": ["conveyor-dev-p1-invocations-per-instance"]}
    scaled_canary.cloud.traffic.start(ENDPOINT, ROWS, per_second=2)
    scaled_canary.bake(BAKE_MINUTES + 2)
    # The update that removed the champion was not refused: its target went first, and the
    # promoted variant is registered with its policy
    assert scaled_canary.record().state == CanaryState.PROMOTED
    assert scaled_canary.weights() == {"p2": 1.0}
    assert scaled_canary.scaled() == {"p2": ["conveyor-dev-p2-invocations-per-instance"]}


def test_with_auto_scaling_a_rollback_leaves_the_champion_scaled(scaled_canary: Canary) -> None:
    rolled_back_by(scaled_canary, error_rate=0.5)
    assert scaled_canary.weights() == {"p1": 1.0}
    assert scaled_canary.scaled() == {"p1": ["conveyor-dev-p1-invocations-per-instance"]}
