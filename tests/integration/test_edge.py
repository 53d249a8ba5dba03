"""The edge release through the local cloud: real Neo builds for three architectures, one Greengrass
component version, a fleet of simulated core devices that self-test it and serve predictions, and a
staged rollout that aborts and rolls back.

Models are approved by hand (ApprovalMode manual), so each test decides when a release starts. The
rollout runs on stack time: ``deliver`` advances the clock a minute at a time until the release ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conveyor.aws import split_s3_uri
from conveyor.schema import load_schema
from conveyor_tools.approval import decide
from conveyor_tools.demo.fleet import predictions
from conveyor_tools.stack import executions, messages, model_packages
from conveyor_tools.synthetic import records
from conveyor_tools.transitions import backoff_retries, entered, retrier
from localcloud import LocalCloud
from localcloud.compilation import emulation
from localcloud.compilation.targets import ARM64, ARM_EABIHF
from localcloud.hosting.container import load_model
from tests.conftest import TEMPLATE
from tests.helpers import queue, run, snapshot, subscribed_queue
from tests.integration.test_canary import BAKE_MINUTES, ENDPOINT, ROWS, Canary
from tests.integration.test_canary import PARAMETERS as CANARY_PARAMETERS

pytestmark = pytest.mark.localcloud

GROUP = "conveyor-dev-fleet"
COMPONENT = "conveyor-dev-inference"
# LINUX_X86 (32-bit) is a target the local Neo stand-in does not build: every release has one
# target that fails to compile, and the others must go on.
TARGETS = "LINUX_X86_64,LINUX_ARM64,LINUX_ARM_EABIHF,LINUX_X86"
PARAMETERS = {
    "NumRound": "30",
    "MinNewRows": "1000000",
    "ApprovalMode": "manual",
    "EndpointEnabled": "false",
    "EdgeThingGroup": GROUP,
    "EdgeTargets": TARGETS,
    "EdgeRolloutBaseRatePerMinute": "2",
    "EdgeRolloutIncrementFactor": "2",
    "EdgeRolloutIncreaseAfterSucceeded": "2",
    "EdgeAbortFailurePercent": "20",
    "EdgeAbortMinDevices": "2",
}
# The ARM64 devices first: the local fleet's rollout reaches devices in the order they joined the
# group (AWS promises no order; the broken-build test relies on this one to know who is reached first).
FLEET = {
    "pi-arm64-1": "aarch64",
    "pi-arm64-2": "aarch64",
    "gw-x86-1": "x86_64",
    "pi-armv7-1": "armv7l",
    "gw-x86-2": "x86_64",
    "pi-armv7-2": "armv7l",
}
SCHEMA = load_schema("predictive_maintenance")
READINGS = [[row[feature.name] for feature in SCHEMA.features] for row in records(20, seed=5)]
MISSING = [problem for arch in (ARM64, ARM_EABIHF) for problem in emulation.missing_tools(arch)]
# A device's Run counts as RUNNING once it has stayed up this long (the fleet's default is 1 s, paid
# once per rollout wave). That every platform's Run serves is shown by its predictions (``served``).
RUN_GRACE_SECONDS = 0.2


class Edge:
    """The stack with a fleet of six core devices in its thing group, and what it announces caught."""

    def __init__(self, cloud: LocalCloud, fleet: dict[str, str] = FLEET) -> None:
        self.cloud = cloud
        self.bus, bus_arn = queue(cloud, "edge-events")
        events = cloud.client("events")
        events.put_rule(Name="edge-events", EventPattern=json.dumps({"source": ["conveyor"]}))
        events.put_targets(Rule="edge-events", Targets=[{"Id": "q", "Arn": bus_arn}])
        self.topic = subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "edge-notifications")
        # Devices download artifacts as the fleet's token exchange role, with the stack's policy attached.
        iam = cloud.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "credentials.iot.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="GreengrassV2TokenExchangeRole", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(
            RoleName="GreengrassV2TokenExchangeRole", PolicyArn=cloud.outputs["EdgeDeviceArtifactPolicyArn"]
        )
        cloud.fleet.token_exchange_role = role["Role"]["Arn"]
        cloud.fleet.run_grace_seconds = RUN_GRACE_SECONDS
        for thing, architecture in fleet.items():
            cloud.fleet.add(thing, architecture=architecture, thing_group=GROUP)

    def train(self, version: int) -> None:
        assert run(self.cloud, snapshot(self.cloud, f"run-00000{version}", seed=version))["status"] == "SUCCEEDED"

    def release(self, version: int) -> dict[str, Any]:
        """Approve package ``version`` and advance stack time until its edge release ends: its execution."""
        decide(self.cloud, str(version), "Approved", "edge test")
        return self.wait(version)

    def wait(self, version: int, minutes: int = 15) -> dict[str, Any]:
        """Advance stack time a minute at a time until the edge release of ``version`` ends: its execution."""
        for _ in range(minutes):
            execution = self.execution(version)
            if execution is not None and execution["status"] != "RUNNING":
                return execution
            self.cloud.advance(minutes=1)
        raise AssertionError(f"the edge release of package {version} is still running after {minutes} minutes")

    def execution(self, version: int) -> dict[str, Any] | None:
        found = [e for e in executions(self.cloud, "EdgeReleaseStateMachineArn") if e["name"] == f"package-{version}"]
        return found[0] if found else None

    def announced(self, kind: str) -> list[dict[str, Any]]:
        return [m["detail"] for m in messages(self.cloud, self.bus) if m["detail-type"] == kind]

    def installed(self) -> dict[str, tuple[str, str]]:
        """Each device's (version, state) of the component."""
        greengrass = self.cloud.client("greengrassv2")
        found = {}
        for thing in self.cloud.fleet.devices:
            listed = greengrass.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
            mine = [c for c in listed if c["componentName"] == COMPONENT]
            found[thing] = (mine[0]["componentVersion"], mine[0]["lifecycleState"]) if mine else ("", "")
        return found

    def xgboost_predictions(self, version: int, rows: list[list[float]]) -> list[float]:
        [package] = [p for p in model_packages(self.cloud) if p["ModelPackageArn"].endswith(f"/{version}")]
        described = self.cloud.client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
        bucket, key = split_s3_uri(described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
        tarball = self.cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        booster = load_model(tarball)
        return [float(v) for v in booster.inplace_predict(np.asarray(rows, dtype=np.float32))]


def served(work: Path, rows: list[list[float]]) -> list[float]:
    """Drop ``rows`` as a readings file in a device's component work folder; its predictions."""
    return predictions(work, "check", rows)


@pytest.fixture
def edge() -> Iterator[Edge]:
    if MISSING:
        pytest.skip(f"the ARM devices need the cross compilers and qemu-user: {MISSING[0]}")
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS) as cloud:
        yield Edge(cloud)


def test_an_approved_model_reaches_every_device_predicts_as_xgboost_and_stays_within_150_transitions(
    edge: Edge,
) -> None:
    edge.train(1)
    execution = edge.release(1)
    assert execution["status"] == "SUCCEEDED"
    [finished] = edge.announced("Edge Deployment Finished")
    assert finished["component_name"] == COMPONENT
    assert finished["component_version"] == "1.1.0"
    assert finished["status"] == "COMPLETED"
    assert finished["devices"]["succeeded"] == 6
    assert finished["devices"]["failed"] == finished["devices"]["timedout"] == 0
    # The target Neo cannot build is reported, with why; the other three were compiled and shipped
    assert finished["compiled_targets"] == ["LINUX_X86_64", "LINUX_ARM64", "LINUX_ARM_EABIHF"]
    [failed] = finished["failed_targets"]
    assert failed["label"] == "LINUX_X86"
    assert failed["reason"]
    # Every device runs it, each its own platform's build, and predicts what XGBoost predicts
    assert set(edge.installed().values()) == {("1.1.0", "RUNNING")}
    expected = edge.xgboost_predictions(1, READINGS)
    for thing in ("pi-arm64-1", "gw-x86-1", "pi-armv7-1"):
        predictions = served(edge.cloud.fleet.device(thing).work(COMPONENT), READINGS)
        assert np.allclose(predictions, expected, atol=1e-5, rtol=0), thing
    # Billed transitions: the states this run entered, and the retries its own back-off would make
    # for 15-minute compilations and a 30-minute rollout (the local cloud's are timed otherwise)
    sfn = edge.cloud.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=execution["stateMachineArn"])["definition"])
    compiling = retrier(definition, "Wait for the compilation", "CompilationInProgressError")
    rolling_out = retrier(definition, "Watch the rollout", "RolloutInProgressError")
    targets = len(TARGETS.split(","))
    assert (
        entered(history) + targets * backoff_retries(15 * 60, compiling) + backoff_retries(30 * 60, rolling_out) <= 150
    )


def test_a_broken_arm_build_fails_its_first_devices_rolls_them_back_and_stops_the_rollout(edge: Edge) -> None:
    edge.train(1)
    assert edge.release(1)["status"] == "SUCCEEDED"
    edge.announced("Edge Deployment Finished")
    messages(edge.cloud, edge.topic)
    edge.train(2)
    edge.cloud.compilation_faults.broken_builds.add("LINUX_ARM64")
    assert edge.release(2)["status"] == "SUCCEEDED"
    [finished] = edge.announced("Edge Deployment Finished")
    assert finished["component_version"] == "1.2.0"
    # The first two devices reached were the ARM64 ones: their self-test failed, and the abort
    # criteria stopped the rollout
    assert finished["status"] == "CANCELED"
    assert finished["devices"]["failed"] == 2
    assert finished["devices"]["succeeded"] == 0
    # The devices that failed went back to the previous version, and the ones never reached kept it
    assert set(edge.installed().values()) == {("1.1.0", "RUNNING")}
    # The operator is told
    notes = [m["Message"] for m in messages(edge.cloud, edge.topic)]
    assert any("ended CANCELED" in note for note in notes), notes


@pytest.fixture
def served_on_the_endpoint() -> Iterator[tuple[Edge, Canary]]:
    """The stack with its endpoint on too: the fleet waits for each model's canary; one x86_64 device."""
    parameters = CANARY_PARAMETERS | {"EdgeThingGroup": GROUP, "EdgeTargets": "LINUX_X86_64"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
        cloud.fleet.add("gw-x86-1", architecture="x86_64", thing_group=GROUP)
        yield Edge(cloud, fleet={}), Canary(cloud)


def test_a_model_rolled_back_on_the_endpoint_reaches_no_device(served_on_the_endpoint: tuple[Edge, Canary]) -> None:
    edge, canary = served_on_the_endpoint
    edge.train(1)
    assert edge.release(1)["status"] == "SUCCEEDED"  # the first model, promoted at once, then rolled out
    edge.train(2)
    canary.approve_challenger()
    canary.cloud.endpoint_faults.variant(ENDPOINT, "p2", error_rate=0.2)
    canary.cloud.traffic.start(ENDPOINT, ROWS, per_second=2)
    canary.bake(BAKE_MINUTES)
    assert canary.record().state.value == "ROLLED_BACK"
    execution = edge.wait(2)
    assert execution["status"] == "SUCCEEDED"
    [stopped] = [d for d in edge.announced("Release Stopped") if d["model_package_version"] == 2]
    assert stopped["canary_outcome"] == "rolled_back"
    assert "no device was deployed to" in stopped["reason"]
    greengrass = edge.cloud.client("greengrassv2")
    deployments = greengrass.list_deployments(historyFilter="ALL")["deployments"]
    assert [d["deploymentName"] for d in deployments] == ["conveyor-dev-p1"]
    arn = f"arn:aws:greengrass:us-east-1:123456789012:components:{COMPONENT}"
    assert [v["componentVersion"] for v in greengrass.list_component_versions(arn=arn)["componentVersions"]] == [
        "1.1.0"
    ]
