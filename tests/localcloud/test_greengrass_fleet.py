"""A simulated Greengrass fleet runs what is deployed to it; the deployment's IoT job rolls out on stack time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.iot_jobs import iot_jobs
from localcloud.compilation import emulation
from localcloud.compilation.targets import ARM64, ARM_EABIHF
from localcloud.greengrass import FleetError
from tests.localcloud.compilation_stack import (
    BUCKET,
    artifact,
    create_job,
    feature_matrix,
    member,
    xgboost_predictions,
)
from tests.localcloud.conftest import service_role
from tests.localcloud.fleet_stack import (
    COMPONENT,
    GROUP_ARN,
    add_devices,
    counts,
    deploy,
    executions,
    fleet_cloud,
    installed,
    job,
    publish,
)

pytestmark = pytest.mark.localcloud

FAIL_ON_AARCH64 = {"aarch64": "echo 'no such instruction' >&2; exit 3"}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with fleet_cloud() as deployed:
        yield deployed


def needs(*architectures: str) -> None:
    """Skip, naming the tool, when this machine cannot build for and emulate these architectures."""
    missing = [str(m) for arch in architectures for m in emulation.missing_tools(arch)]
    if missing:
        pytest.skip("; ".join(missing))


def test_gap_moto_jobs_never_progress_and_target_the_group_not_its_devices() -> None:
    with fleet_cloud(without=[iot_jobs]) as cloud:
        add_devices(cloud, "x86_64-1", "x86_64-2")
        publish(cloud, "1.0.0")
        created = deploy(cloud, "1.0.0")
        cloud.advance(minutes=5)
        assert job(cloud, created["iotJobId"])["status"] == "QUEUED"
        assert executions(cloud, created["iotJobId"]) == {"edge-fleet": "QUEUED"}
        assert installed(cloud, "x86_64-1") == {}


def test_a_deployment_reaches_every_device_and_each_runs_its_platforms_manifest(cloud: LocalCloud) -> None:
    needs(ARM64, ARM_EABIHF)
    things = ["x86_64-1", "aarch64-1", "armv7l-1", "x86_64-2", "aarch64-2", "armv7l-2"]
    add_devices(cloud, *things)
    publish(cloud, "1.0.0")

    created = deploy(cloud, "1.0.0")

    described = job(cloud, created["iotJobId"])
    assert (described["status"], counts(described)) == ("IN_PROGRESS", {"Succeeded": 6})  # continuous, as on AWS
    platforms = {"x86_64": "amd64", "aarch64": "aarch64", "armv7l": "arm"}
    for thing in things:
        architecture = thing.rsplit("-", 1)[0]
        written = (cloud.fleet.device(thing).work(COMPONENT) / "hello.txt").read_text().split()
        assert written == [platforms[architecture], "hello", thing, architecture]
        assert installed(cloud, thing) == {COMPONENT: ("1.0.0", "RUNNING")}
    device = cloud.client("greengrassv2").get_core_device(coreDeviceThingName="armv7l-1")
    assert (device["platform"], device["architecture"], device["status"]) == ("linux", "arm", "HEALTHY")


def test_failing_devices_roll_back_and_the_abort_criteria_cancel_the_job(cloud: LocalCloud) -> None:
    needs(ARM64)
    add_devices(cloud, "aarch64-1", "x86_64-1", "aarch64-2", "x86_64-2", "aarch64-3", "x86_64-3")
    publish(cloud, "1.0.0")
    publish(cloud, "2.0.0", install=FAIL_ON_AARCH64)
    job(cloud, deploy(cloud, "1.0.0")["iotJobId"])
    cloud.advance(minutes=1)

    created = deploy(
        cloud,
        "2.0.0",
        jobExecutionsRolloutConfig={"maximumPerMinute": 2},
        abortConfig={
            "criteriaList": [
                {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50, "minNumberOfExecutedThings": 4}
            ]
        },
    )
    assert counts(job(cloud, created["iotJobId"])) == {"Succeeded": 1, "Failed": 1, "Queued": 4}
    cloud.advance(minutes=1)

    described = job(cloud, created["iotJobId"])
    assert described["status"] == "CANCELED"
    assert "2 of 4 executed things FAILED" in described["comment"]
    assert counts(described) == {"Succeeded": 2, "Failed": 2, "Canceled": 2}
    assert executions(cloud, created["iotJobId"]) == {
        "aarch64-1": "FAILED",
        "x86_64-1": "SUCCEEDED",
        "aarch64-2": "FAILED",
        "x86_64-2": "SUCCEEDED",
        "aarch64-3": "CANCELED",
        "x86_64-3": "CANCELED",
    }
    versions = {thing: installed(cloud, thing)[COMPONENT] for thing in executions(cloud, created["iotJobId"])}
    assert versions == {
        "aarch64-1": ("1.0.0", "RUNNING"),  # rolled back
        "x86_64-1": ("2.0.0", "RUNNING"),
        "aarch64-2": ("1.0.0", "RUNNING"),
        "x86_64-2": ("2.0.0", "RUNNING"),
        "aarch64-3": ("1.0.0", "RUNNING"),  # never notified
        "x86_64-3": ("1.0.0", "RUNNING"),
    }
    failure = cloud.client("iot").describe_job_execution(jobId=created["iotJobId"], thingName="aarch64-1")
    assert failure["execution"]["statusDetails"]["detailsMap"] == {
        "detailed-deployment-status": "FAILED_ROLLBACK_COMPLETE",
        "deployment-failure-cause": f"{COMPONENT} 2.0.0: Install exited 3",
    }
    [effective] = [
        d
        for d in cloud.client("greengrassv2").list_effective_deployments(coreDeviceThingName="aarch64-1")[
            "effectiveDeployments"
        ]
        if d["iotJobId"] == created["iotJobId"]
    ]
    assert effective["coreDeviceExecutionStatus"] == "FAILED"


def test_with_do_nothing_a_failed_device_stays_broken(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1", "x86_64-2")
    publish(cloud, "1.0.0")
    cloud.fleet_faults.failing.add("x86_64-1")

    created = deploy(cloud, "1.0.0", policy="DO_NOTHING")

    assert executions(cloud, created["iotJobId"]) == {"x86_64-1": "FAILED", "x86_64-2": "SUCCEEDED"}
    assert installed(cloud, "x86_64-1") == {COMPONENT: ("1.0.0", "BROKEN")}
    device = cloud.client("greengrassv2").get_core_device(coreDeviceThingName="x86_64-1")
    assert device["status"] == "UNHEALTHY"


def test_the_rollout_notifies_the_base_rate_in_the_first_minute_then_faster(cloud: LocalCloud) -> None:
    add_devices(cloud, *(f"x86_64-{n}" for n in range(1, 7)))
    publish(cloud, "1.0.0")
    rate = {
        "exponentialRate": {
            "baseRatePerMinute": 2,
            "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 2},
        }
    }

    created = deploy(cloud, "1.0.0", jobExecutionsRolloutConfig=rate)
    # Half a minute of slack each side of the boundary: the devices' work takes wall (and so stack) time
    cloud.advance(seconds=30)
    first_minute = job(cloud, created["iotJobId"])
    assert counts(first_minute) == {"Succeeded": 2, "Queued": 4}
    assert first_minute["jobProcessDetails"]["processingTargets"]
    cloud.advance(seconds=30)
    done = job(cloud, created["iotJobId"])
    assert counts(done) == {"Succeeded": 6}
    assert "processingTargets" not in done["jobProcessDetails"]


def test_a_device_that_never_reports_times_out(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1", "x86_64-2")
    publish(cloud, "1.0.0")
    cloud.fleet_faults.silent.add("x86_64-2")

    created = deploy(cloud, "1.0.0", timeoutConfig={"inProgressTimeoutInMinutes": 5})
    cloud.advance(minutes=4)
    assert executions(cloud, created["iotJobId"]) == {"x86_64-1": "SUCCEEDED", "x86_64-2": "IN_PROGRESS"}
    cloud.advance(minutes=1)

    assert executions(cloud, created["iotJobId"]) == {"x86_64-1": "SUCCEEDED", "x86_64-2": "TIMED_OUT"}
    assert counts(job(cloud, created["iotJobId"])) == {"Succeeded": 1, "TimedOut": 1}


def test_a_device_without_a_manifest_for_its_platform_fails_and_changes_nothing(cloud: LocalCloud) -> None:
    needs(ARM_EABIHF)
    add_devices(cloud, "armv7l-1")
    publish(cloud, "1.0.0")
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "conveyor.AmdOnly",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Platform": {"os": "linux", "architecture": "/amd64|x86/"}, "Lifecycle": {"Run": "true"}}],
    }
    cloud.client("greengrassv2").create_component_version(inlineRecipe=json.dumps(recipe).encode())

    created = cloud.client("greengrassv2").create_deployment(
        targetArn=GROUP_ARN, components={"conveyor.AmdOnly": {"componentVersion": "1.0.0"}}
    )

    failure = cloud.client("iot").describe_job_execution(jobId=created["iotJobId"], thingName="armv7l-1")["execution"]
    assert failure["status"] == "FAILED"
    assert failure["statusDetails"]["detailsMap"]["detailed-deployment-status"] == "FAILED_NO_STATE_CHANGE"
    assert (
        "no manifest for this device's platform (architecture=arm, os=linux)"
        in (failure["statusDetails"]["detailsMap"]["deployment-failure-cause"])
    )


def test_canceling_a_deployment_cancels_its_job_before_queued_devices_get_it(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1", "x86_64-2")
    publish(cloud, "1.0.0")
    created = deploy(cloud, "1.0.0", jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    assert executions(cloud, created["iotJobId"]) == {"x86_64-1": "SUCCEEDED", "x86_64-2": "QUEUED"}

    cloud.client("greengrassv2").cancel_deployment(deploymentId=created["deploymentId"])
    cloud.advance(minutes=2)

    deployment = cloud.client("greengrassv2").get_deployment(deploymentId=created["deploymentId"])
    assert (deployment["deploymentStatus"], job(cloud, created["iotJobId"])["status"]) == ("CANCELED", "CANCELED")
    assert installed(cloud, "x86_64-2") == {}


def test_a_foreign_architecture_device_runs_its_native_library_through_the_runner(cloud: LocalCloud) -> None:
    needs(ARM64)
    add_devices(cloud, "aarch64-1")
    compiled = create_job(cloud, target={"TargetDevice": "rasp4b"})
    assert compiled["CompilationJobStatus"] == "COMPLETED", compiled
    uri = compiled["ModelArtifacts"]["S3ModelArtifacts"]
    row = feature_matrix(2)[1]
    install = (
        "mkdir -p model && tar -xzf {artifacts:path}/" + uri.rsplit("/", 1)[-1] + " -C model && "
        f"echo '{','.join(repr(float(v)) for v in row)}' | $CONVEYOR_NATIVE_RUNNER model/compiled.so > prediction.txt"
    )
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "conveyor.Model",
        "ComponentVersion": "1.0.0",
        "Manifests": [
            {
                "Platform": {"os": "linux", "architecture": "aarch64"},
                "Artifacts": [{"URI": uri}],
                "Lifecycle": {"Install": install},
            }
        ],
    }
    cloud.client("greengrassv2").create_component_version(inlineRecipe=json.dumps(recipe).encode())

    created = cloud.client("greengrassv2").create_deployment(
        targetArn=GROUP_ARN, components={"conveyor.Model": {"componentVersion": "1.0.0"}}
    )

    assert executions(cloud, created["iotJobId"]) == {"aarch64-1": "SUCCEEDED"}
    assert installed(cloud, "aarch64-1") == {"conveyor.Model": ("1.0.0", "FINISHED")}
    library = member(artifact(cloud, compiled), "compiled.so")
    assert library[18] == 183  # e_machine: the library really is aarch64 (EM_AARCH64)
    predicted = float((cloud.fleet.device("aarch64-1").work("conveyor.Model") / "prediction.txt").read_text())
    np.testing.assert_allclose(predicted, xgboost_predictions(row.reshape(1, -1))[0], atol=1e-5)


def test_an_unknown_architecture_is_refused(cloud: LocalCloud) -> None:
    with pytest.raises(FleetError, match="unknown architecture 'mips'"):
        cloud.fleet.add("odd-1", architecture="mips")


def test_deploying_needs_permission_to_create_the_fleets_iot_job(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1")
    publish(cloud, "1.0.0")
    only_greengrass = service_role(
        cloud, "deployer", "lambda.amazonaws.com", {"Action": "greengrass:CreateDeployment", "Resource": "*"}
    )
    greengrass = cloud.client("greengrassv2", principal=only_greengrass)

    with pytest.raises(ClientError, match="AccessDenied") as denied:
        greengrass.create_deployment(targetArn=GROUP_ARN, components={COMPONENT: {"componentVersion": "1.0.0"}})

    assert "iot:CreateJob" in str(denied.value)
    assert cloud.client("greengrassv2").list_deployments()["deployments"] == []


def test_reading_a_job_needs_permission_on_that_job(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1")
    publish(cloud, "1.0.0")
    created = deploy(cloud, "1.0.0")
    other_job = "arn:aws:iot:us-east-1:123456789012:job/another"
    reader = service_role(cloud, "reader", "lambda.amazonaws.com", {"Action": "iot:DescribeJob", "Resource": other_job})

    with pytest.raises(ClientError, match="AccessDenied"):
        cloud.client("iot", principal=reader).describe_job(jobId=created["iotJobId"])


def test_artifacts_are_read_as_the_token_exchange_role_when_one_is_set(cloud: LocalCloud) -> None:
    add_devices(cloud, "x86_64-1")
    publish(cloud, "1.0.0")
    cloud.fleet.token_exchange_role = service_role(cloud, "token-exchange", "credentials.iot.amazonaws.com")

    created = deploy(cloud, "1.0.0")

    failure = cloud.client("iot").describe_job_execution(jobId=created["iotJobId"], thingName="x86_64-1")["execution"]
    assert failure["statusDetails"]["detailsMap"]["detailed-deployment-status"] == "FAILED_NO_STATE_CHANGE"
    assert (
        f"cannot download s3://{BUCKET}/greengrass/{COMPONENT}/1.0.0/hello.zip"
        in (failure["statusDetails"]["detailsMap"]["deployment-failure-cause"])
    )
