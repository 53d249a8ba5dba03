"""The Model Registry keeps approvals as SageMaker does, and announces each version and approval change.

Events are caught by a rule on the default bus that forwards SageMaker's model package events to
a queue (``catch_events``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud import LocalCloud
from localcloud.adapters.sagemaker_registry import sagemaker_registry
from localcloud.delivery import AtLeastOnce
from tests.conftest import TEMPLATE
from tests.localcloud.conftest import cloud_without
from tests.localcloud.trail_stack import catch_events

pytestmark = pytest.mark.localcloud

PACKAGE_EVENTS = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]}
INFERENCE = {
    "Containers": [{"Image": "xgboost", "ModelDataUrl": "s3://artifacts/training/run-1/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}
METRICS = {
    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://artifacts/reports/run-1.json"}}
}


def register(cloud: LocalCloud, **arguments: Any) -> str:
    """Register a version in the stack's model package group, as the retraining workflow does; its ARN."""
    arn: str = cloud.client("sagemaker").create_model_package(
        ModelPackageGroupName=cloud.outputs["ModelPackageGroupName"],
        ModelPackageDescription="run-1",
        InferenceSpecification=INFERENCE,
        ModelMetrics=METRICS,
        **arguments,
    )["ModelPackageArn"]
    return arn


def described(cloud: LocalCloud, arn: str) -> dict[str, Any]:
    package: dict[str, Any] = cloud.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return package


def package_events(cloud: LocalCloud) -> Callable[[], list[dict[str, Any]]]:
    """The model package events delivered so far, oldest first (taken off their queue)."""
    return catch_events(cloud, PACKAGE_EVENTS)


def statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["ModelApprovalStatus"] for e in events]


def test_gap_moto_sends_no_model_package_event() -> None:
    with cloud_without(sagemaker_registry) as cloud:
        caught = package_events(cloud)
        arn = register(cloud, ModelApprovalStatus="PendingManualApproval")
        cloud.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        assert caught() == []


def test_gap_moto_leaves_a_new_version_without_approval_status() -> None:
    with cloud_without(sagemaker_registry) as cloud:
        arn = register(cloud)
        assert "ModelApprovalStatus" not in described(cloud, arn)


def test_gap_moto_erases_what_an_update_leaves_out() -> None:
    with cloud_without(sagemaker_registry) as cloud:
        arn = register(cloud, ModelApprovalStatus="Approved", CustomerMetadataProperties={"run_id": "run-1"})
        sagemaker = cloud.client("sagemaker")
        sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="passed the gate")
        assert "ModelApprovalStatus" not in described(cloud, arn)
        assert "CustomerMetadataProperties" not in described(cloud, arn)
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        assert "ApprovalDescription" not in described(cloud, arn)


def test_fix_registering_a_version_sends_the_documented_event(cloud: LocalCloud) -> None:
    # Given a rule for SageMaker's model package events
    caught = package_events(cloud)
    # When a version is registered without an approval status
    arn = register(cloud)
    # Then one event describes it, awaiting manual approval, as SageMaker's developer guide shows it
    [event] = caught()
    group = cloud.outputs["ModelPackageGroupName"]
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert (event["account"], event["region"], event["resources"]) == (cloud.account_id, cloud.region, [arn])
    detail = event["detail"]
    assert detail["ModelPackageGroupName"] == group
    assert detail["ModelPackageVersion"] == 1
    assert detail["ModelPackageArn"] == arn
    assert detail["ModelPackageName"] == f"{group}/1"
    assert detail["ModelPackageDescription"] == "run-1"
    assert detail["ModelPackageStatus"] == "Completed"
    assert detail["ModelApprovalStatus"] == "PendingManualApproval"
    assert detail["InferenceSpecification"] == INFERENCE
    assert detail["ModelMetrics"] == METRICS
    created = datetime.strptime(detail["CreationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(created - datetime.fromisoformat(event["time"])) <= timedelta(seconds=1)
    assert detail["LastModifiedTime"] == detail["CreationTime"]
    assert "ApprovalDescription" not in detail


def test_fix_a_new_version_without_status_awaits_manual_approval(cloud: LocalCloud) -> None:
    arn = register(cloud)
    assert described(cloud, arn)["ModelApprovalStatus"] == "PendingManualApproval"
    pending = cloud.client("sagemaker").list_model_packages(
        ModelPackageGroupName=cloud.outputs["ModelPackageGroupName"], ModelApprovalStatus="PendingManualApproval"
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in pending] == [arn]


def test_fix_each_change_of_approval_sends_an_event_with_its_description(cloud: LocalCloud) -> None:
    caught = package_events(cloud)
    arn = register(cloud)
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="gate")
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="drift")
    events = caught()
    assert statuses(events) == ["PendingManualApproval", "Approved", "Rejected"]
    assert [e["detail"].get("ApprovalDescription") for e in events] == [None, "gate", "drift"]


def test_fix_an_update_that_keeps_the_status_sends_no_event(cloud: LocalCloud) -> None:
    # Given an approved version, its event taken
    arn = register(cloud, ModelApprovalStatus="Approved")
    caught = package_events(cloud)
    # When its approval description changes alone, and then the same status is set again
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=arn, ApprovalDescription="approved by the release gate")
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    # Then it is still approved, with the new description, and no event was sent
    package = described(cloud, arn)
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == (
        "Approved",
        "approved by the release gate",
    )
    assert caught() == []


def test_fix_an_update_keeps_the_metadata_it_leaves_out(cloud: LocalCloud) -> None:
    arn = register(cloud, CustomerMetadataProperties={"run_id": "run-1"})
    cloud.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert described(cloud, arn)["CustomerMetadataProperties"] == {"run_id": "run-1"}


def test_fix_a_rule_on_approval_receives_only_approvals(cloud: LocalCloud) -> None:
    # Given the usual deploy-on-approval rule, on the stack's group and the Approved status
    group = cloud.outputs["ModelPackageGroupName"]
    on_approval = {"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"]}
    caught = catch_events(cloud, {**PACKAGE_EVENTS, "detail": on_approval})
    # When one version is registered and rejected, and another registered and approved
    sagemaker = cloud.client("sagemaker")
    rejected, approved = register(cloud), register(cloud)
    sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    sagemaker.update_model_package(ModelPackageArn=approved, ModelApprovalStatus="Approved")
    # Then the rule receives the approval alone
    assert [e["resources"] for e in caught()] == [[approved]]


def test_fix_a_state_machine_registering_a_version_sends_the_event(cloud: LocalCloud) -> None:
    caught = package_events(cloud)
    definition = {
        "StartAt": "Register model package",
        "States": {
            "Register model package": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
                "Parameters": {
                    "ModelPackageGroupName": cloud.outputs["ModelPackageGroupName"],
                    "InferenceSpecification": INFERENCE,
                },
                "End": True,
            }
        },
    }
    description = cloud.run_state_machine("registrar", definition)
    assert description["status"] == "SUCCEEDED"
    arn = json.loads(description["output"])["ModelPackageArn"]
    assert [(e["resources"], e["detail"]["ModelApprovalStatus"]) for e in caught()] == [
        ([arn], "PendingManualApproval")
    ]


def test_fix_an_event_can_reach_the_bus_twice() -> None:
    # With every delivery doubled, the queue's own rule target doubles each event: 2 copies
    # from the target alone, 4 when SageMaker sends the event twice too.
    with LocalCloud.from_template(TEMPLATE, delivery=AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0)) as cloud:
        caught = package_events(cloud)
        arn = register(cloud)
        assert [e["resources"] for e in caught()] == [[arn]] * 4
