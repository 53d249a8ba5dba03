"""Greengrass v2's control plane: components, deployments and core devices, validated like the service."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.greengrassv2 import greengrassv2
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

FLEET = "arn:aws:iot:us-east-1:123456789012:thinggroup/edge-fleet"


def recipe(bucket: str, version: str = "1.0.0") -> bytes:
    return json.dumps(
        {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": "conveyor.Model",
            "ComponentVersion": version,
            "ComponentPublisher": "Conveyor",
            "Manifests": [
                {
                    "Platform": {"os": "linux", "architecture": "aarch64"},
                    "Artifacts": [{"URI": f"s3://{bucket}/edge/model-{version}/aarch64/model.so"}],
                    "Lifecycle": {"Run": "python3 {artifacts:path}/infer.py"},
                }
            ],
        }
    ).encode()


def publish(cloud: LocalCloud, version: str = "1.0.0") -> dict[str, Any]:
    bucket = cloud.outputs["ArtifactBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key=f"edge/model-{version}/aarch64/model.so", Body=b"\x7fELF")
    response: dict[str, Any] = cloud.client("greengrassv2").create_component_version(
        inlineRecipe=recipe(bucket, version)
    )
    return response


def deploy(cloud: LocalCloud, version: str) -> str:
    deployment_id: str = cloud.client("greengrassv2").create_deployment(
        targetArn=FLEET,
        deploymentName=f"model {version}",
        components={"conveyor.Model": {"componentVersion": version}},
        iotJobConfiguration={
            "jobExecutionsRolloutConfig": {
                "exponentialRate": {
                    "baseRatePerMinute": 2,
                    "incrementFactor": 2.0,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 2},
                }
            },
            "abortConfig": {
                "criteriaList": [
                    {
                        "failureType": "FAILED",
                        "action": "CANCEL",
                        "thresholdPercentage": 10,
                        "minNumberOfExecutedThings": 2,
                    }
                ]
            },
            "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        },
        deploymentPolicies={"failureHandlingPolicy": "ROLLBACK"},
    )["deploymentId"]
    return deployment_id


def test_gap_moto_has_no_greengrass_v2() -> None:
    with cloud_without(greengrassv2) as cloud, pytest.raises(ClientError, match="Not yet implemented"):
        cloud.client("greengrassv2").list_core_devices()


def test_a_component_whose_artifacts_exist_is_deployable(cloud: LocalCloud) -> None:
    created = publish(cloud)
    assert created["componentVersion"] == "1.0.0"
    assert created["status"]["componentState"] == "DEPLOYABLE"
    described = cloud.client("greengrassv2").describe_component(arn=created["arn"])
    assert described["platforms"] == [{"attributes": {"os": "linux", "architecture": "aarch64"}}]
    recipe_back = cloud.client("greengrassv2").get_component(arn=created["arn"])["recipe"]
    assert json.loads(recipe_back)["ComponentName"] == "conveyor.Model"


def test_a_component_whose_artifact_is_missing_fails_and_names_the_artifact(cloud: LocalCloud) -> None:
    bucket = cloud.outputs["ArtifactBucketName"]
    created = cloud.client("greengrassv2").create_component_version(inlineRecipe=recipe(bucket, "2.0.0"))
    assert created["status"]["componentState"] == "FAILED"
    assert list(created["status"]["errors"]) == [f"s3://{bucket}/edge/model-2.0.0/aarch64/model.so"]


def test_a_published_version_is_never_overwritten(cloud: LocalCloud) -> None:
    publish(cloud)
    with pytest.raises(ClientError, match="ConflictException"):
        publish(cloud)


def test_a_deployment_keeps_its_rollout_abort_and_rollback_settings(cloud: LocalCloud) -> None:
    publish(cloud)
    deployment = cloud.client("greengrassv2").get_deployment(deploymentId=deploy(cloud, "1.0.0"))
    assert deployment["targetArn"] == FLEET
    assert deployment["deploymentPolicies"]["failureHandlingPolicy"] == "ROLLBACK"
    rollout = deployment["iotJobConfiguration"]["jobExecutionsRolloutConfig"]["exponentialRate"]
    assert rollout["incrementFactor"] == 2.0
    assert deployment["isLatestForTarget"] is True


def test_only_the_latest_deployment_of_a_target_is_listed_by_default(cloud: LocalCloud) -> None:
    publish(cloud, "1.0.0")
    publish(cloud, "1.1.0")
    first, second = deploy(cloud, "1.0.0"), deploy(cloud, "1.1.0")
    greengrass = cloud.client("greengrassv2")
    latest = greengrass.list_deployments(targetArn=FLEET)["deployments"]
    history = greengrass.list_deployments(targetArn=FLEET, historyFilter="ALL")["deployments"]
    assert [d["deploymentId"] for d in latest] == [second]
    assert {d["deploymentId"] for d in history} == {first, second}


def test_deploying_an_unknown_component_version_is_refused(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        deploy(cloud, "9.9.9")


def test_requests_are_validated_against_the_service_model(cloud: LocalCloud) -> None:
    # A client that skips its own validation, as Step Functions' aws-sdk integration does
    client = boto3.client("greengrassv2", region_name=cloud.region, config=Config(parameter_validation=False))
    with pytest.raises(ClientError, match="ValidationException") as error:
        client.create_deployment(components={})
    assert "targetArn" in str(error.value)


def test_core_devices_are_listed_by_thing_group(cloud: LocalCloud) -> None:
    assert cloud.greengrass is not None
    cloud.greengrass.register_core_device("edge-1", {FLEET})
    cloud.greengrass.register_core_device("lab-1", {"arn:aws:iot:us-east-1:123456789012:thinggroup/lab"})
    devices = cloud.client("greengrassv2").list_core_devices(thingGroupArn=FLEET)["coreDevices"]
    assert [(d["coreDeviceThingName"], d["status"]) for d in devices] == [("edge-1", "HEALTHY")]


def test_a_state_machine_deploys_through_the_aws_sdk_integration(cloud: LocalCloud) -> None:
    publish(cloud)
    definition = {
        "StartAt": "Deploy to fleet",
        "States": {
            "Deploy to fleet": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:greengrassv2:createDeployment",
                "Parameters": {
                    "TargetArn": FLEET,
                    "Components": {"conveyor.Model": {"ComponentVersion": "1.0.0"}},
                    "DeploymentPolicies": {"FailureHandlingPolicy": "ROLLBACK"},
                },
                "ResultSelector": {"deploymentId.$": "$.DeploymentId"},
                "End": True,
            }
        },
    }
    result = cloud.run_state_machine("deploy", definition)
    assert result["status"] == "SUCCEEDED", result
    deployment_id = json.loads(result["output"])["deploymentId"]
    deployment = cloud.client("greengrassv2").get_deployment(deploymentId=deployment_id)
    assert deployment["components"] == {"conveyor.Model": {"componentVersion": "1.0.0"}}
