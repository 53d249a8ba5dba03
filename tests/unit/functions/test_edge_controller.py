"""The edge controller's plan and waits: targets, job names, the canary's outcome, the rollout's end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws
from publication import self_test_rows
from targets import EdgePlanError, EdgeSettings, ReleaseInput, job_name, parse_target, plan
from waits import (
    CanaryInProgressError,
    CompilationInProgressError,
    RolloutInProgressError,
    canary_outcome,
    compilation,
    rollout,
)

from conveyor import aws
from conveyor.schema import load_schema
from conveyor.state.canary import CanaryRecord, CanaryState, start_canary, transition
from tests.helpers import load_app
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SETTINGS = EdgeSettings(
    project_name="conveyor",
    stage="dev",
    conveyor_version="0.1.0",
    state_table_name="state",
    resource_prefix="conveyor-dev",
    feature_schema="predictive_maintenance",
    edge_targets="LINUX_X86_64, rasp4b,LINUX_ARM_EABIHF",
    edge_thing_group="fleet",
    artifact_bucket_name="artifacts",
    key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    endpoint_enabled=True,
    compile_minutes=15,
    canary_wait_minutes=60,
    rollout_minutes=30,
    rollout_base_rate_per_minute=2,
    rollout_increment_factor=2,
    rollout_increase_after_succeeded=2,
    abort_failure_percent=20,
    abort_min_devices=2,
    device_timeout_minutes=30,
    thing_group_arn_prefix="arn:aws:iot:us-east-1:123456789012:thinggroup/",
    component_arn_prefix="arn:aws:greengrass:us-east-1:123456789012:components:",
)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/conveyor-dev-models/7"


def release(execution: str = "package-7") -> ReleaseInput:
    return ReleaseInput(
        model_package_arn=PACKAGE,
        model_package_version=7,
        model_data_url="s3://artifacts/training/run-7/output/model.tar.gz",
        execution=execution,
    )


@pytest.mark.parametrize(
    ("label", "fields", "architecture"),
    [
        ("rasp4b", {"TargetDevice": "rasp4b"}, "aarch64"),
        ("rasp3b", {"TargetDevice": "rasp3b"}, "arm"),
        ("ml_c5", {"TargetDevice": "ml_c5"}, "amd64"),
        ("LINUX_X86_64", {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}, "amd64"),
        ("LINUX_ARM_EABIHF", {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM_EABIHF"}}, "arm"),
        ("LINUX_ARM_EABI", {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM_EABI"}}, "arm"),
    ],
)
def test_a_target_is_a_neo_device_or_platform_and_a_greengrass_architecture(
    label: str, fields: dict[str, Any], architecture: str
) -> None:
    assert parse_target(label) == (fields, architecture)


@pytest.mark.parametrize("label", ["raspberry", "LINUX_SPARC", "WINDOWS_X86_64", "LINUX_ARM64_NVIDIA", "linux_arm64"])
def test_an_unknown_target_names_itself_and_what_is_known(label: str) -> None:
    with pytest.raises(EdgePlanError, match=f"EdgeTargets: '{label}' is neither") as refused:
        parse_target(label)
    assert "rasp4b" in str(refused.value)
    assert "ARM_EABIHF" in str(refused.value)


def test_the_plan_compiles_each_target_into_the_release_own_location() -> None:
    planned = plan(SETTINGS, release())
    assert planned.enabled
    assert planned.wait_for_canary
    assert planned.thing_group_arn == "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet"
    assert planned.component_name == "conveyor-dev-inference"
    assert [(t.label, t.architecture) for t in planned.targets] == [
        ("LINUX_X86_64", "amd64"),
        ("rasp4b", "aarch64"),
        ("LINUX_ARM_EABIHF", "arm"),
    ]
    [x86, *_] = planned.targets
    features = len(load_schema("predictive_maintenance").features)
    assert x86.input_config == {
        "S3Uri": "s3://artifacts/training/run-7/output/model.tar.gz",
        "DataInputConfig": json.dumps({"data": [1, features]}),
        "Framework": "XGBOOST",
    }
    assert x86.output_config == {
        "S3OutputLocation": "s3://artifacts/edge/compiled/p7/",
        "KmsKeyId": SETTINGS.key_arn,
        "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
    }
    assert x86.stopping_condition == {"MaxRuntimeInSeconds": 900}


def test_two_targets_for_one_architecture_are_refused_by_name() -> None:
    settings = SETTINGS.model_copy(update={"edge_targets": "rasp4b,jetson_nano"})
    with pytest.raises(
        EdgePlanError, match="'rasp4b' and 'jetson_nano' both build for Greengrass architecture 'aarch64'"
    ):
        plan(settings, release())


def test_no_targets_with_a_fleet_is_an_error() -> None:
    with pytest.raises(EdgePlanError, match="EdgeTargets is empty"):
        plan(SETTINGS.model_copy(update={"edge_targets": " , "}), release())


def test_without_a_thing_group_edge_release_is_off_and_says_why() -> None:
    planned = plan(SETTINGS.model_copy(update={"edge_thing_group": " "}), release())
    assert not planned.enabled
    assert planned.targets == []
    assert "EdgeThingGroup is empty" in planned.reason


def test_job_names_fit_neo_and_differ_per_execution_and_target() -> None:
    names = {job_name(SETTINGS, release(execution), label) for execution in ("a", "b") for label in ("rasp4b", "ml_c5")}
    assert len(names) == 4
    long = SETTINGS.model_copy(update={"resource_prefix": "a-twenty-char-projec-staging"})
    name = job_name(long, release(), "LINUX_ARM_EABIHF" * 2)
    assert len(name) <= 63
    assert name.startswith("a-twenty-char-projec-staging-p7-linux-arm-eabihf")
    assert not name.endswith("-")
    assert "--" not in name


def test_self_test_rows_spread_over_each_feature_range_with_one_missing_value() -> None:
    features = load_schema("predictive_maintenance").features
    rows = self_test_rows("predictive_maintenance")
    assert len(rows) == 16
    assert all(len(row) == len(features) for row in rows)
    assert rows[-1][0] is None
    for j, feature in enumerate(features):
        values = [row[j] for row in rows if row[j] is not None]
        assert len(set(values)) > 4, feature.name
        assert all(
            (feature.min is None or v >= feature.min) and (feature.max is None or v <= feature.max) for v in values
        )


@pytest.fixture
def table() -> Iterator[None]:
    with mock_aws():
        create_state_table()
        yield
    aws.client.cache_clear()


def canary_in(state: CanaryState, alarm: str | None = None) -> None:
    record = CanaryRecord(
        version=7,
        package_arn=PACKAGE,
        endpoint_name="conveyor-dev",
        state=CanaryState.DEPLOYING,
        state_changed_at=NOW,
        challenger_variant="p7",
    )
    start_canary("state", record)
    if state != CanaryState.DEPLOYING:
        transition("state", 7, CanaryState.DEPLOYING, state, now=NOW, **({"alarm_name": alarm} if alarm else {}))


@pytest.mark.usefixtures("table")
def test_a_canary_without_an_outcome_is_waited_for_until_the_deadline() -> None:
    with pytest.raises(CanaryInProgressError, match="not started"):
        canary_outcome(SETTINGS, 7, NOW, now=NOW + timedelta(minutes=59))
    canary_in(CanaryState.BAKING)
    with pytest.raises(CanaryInProgressError, match="BAKING"):
        canary_outcome(SETTINGS, 7, NOW, now=NOW + timedelta(minutes=59))
    late = canary_outcome(SETTINGS, 7, NOW, now=NOW + timedelta(minutes=60))
    assert late.outcome == "no_outcome"
    assert "EdgeCanaryWaitMinutes (60)" in late.reason


@pytest.mark.usefixtures("table")
@pytest.mark.parametrize(
    ("state", "outcome"),
    [(CanaryState.PROMOTED, "promoted"), (CanaryState.ROLLED_BACK, "rolled_back"), (CanaryState.FAILED, "failed")],
)
def test_the_canary_outcome_is_read_from_its_record(state: CanaryState, outcome: str) -> None:
    canary_in(state, alarm="conveyor-dev-canary-p7-errors" if state == CanaryState.ROLLED_BACK else None)
    answer = canary_outcome(SETTINGS, 7, NOW, now=NOW)
    assert answer.outcome == outcome
    if outcome == "rolled_back":
        assert "by alarm conveyor-dev-canary-p7-errors" in answer.reason


class Recorded:
    """A client that answers one describe call and records what else it was asked."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.stopped: list[str] = []

    def describe_compilation_job(self, CompilationJobName: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        return self.answer

    def stop_compilation_job(self, CompilationJobName: str) -> None:  # noqa: N803
        self.stopped.append(CompilationJobName)

    def describe_job(self, jobId: str) -> dict[str, Any]:  # noqa: N803
        return {"job": self.answer}


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def install(answer: dict[str, Any]) -> Recorded:
        client = Recorded(answer)
        monkeypatch.setattr(aws, "client", lambda service: client)
        return client

    return install


def test_a_finished_compilation_gives_its_artifact_or_its_reason(answering: Any) -> None:
    answering({"CompilationJobStatus": "COMPLETED", "ModelArtifacts": {"S3ModelArtifacts": "s3://a/b.tar.gz"}})
    assert compilation(SETTINGS, "job", "rasp4b", now=NOW).artifact == "s3://a/b.tar.gz"
    answering({"CompilationJobStatus": "FAILED", "FailureReason": "ClientError: bad shape"})
    failed = compilation(SETTINGS, "job", "rasp4b", now=NOW)
    assert (failed.label, failed.status, failed.reason) == ("rasp4b", "FAILED", "ClientError: bad shape")


def test_a_compilation_past_its_deadline_is_stopped(answering: Any) -> None:
    client = answering({"CompilationJobStatus": "INPROGRESS", "CreationTime": NOW})
    with pytest.raises(CompilationInProgressError):
        compilation(SETTINGS, "job", "rasp4b", now=NOW + timedelta(minutes=14))
    assert client.stopped == []
    late = compilation(SETTINGS, "job", "rasp4b", now=NOW + timedelta(minutes=15))
    assert late.status == "STOPPED"
    assert "EdgeCompileMinutes (15)" in (late.reason or "")
    assert client.stopped == ["job"]


def test_a_rollout_ends_with_the_devices_per_state(answering: Any) -> None:
    details = {"numberOfSucceededThings": 4, "numberOfFailedThings": 2, "numberOfCanceledThings": 3}
    answering({"status": "CANCELED", "reasonCode": "FAILURE_THRESHOLD", "jobProcessDetails": details, "createdAt": NOW})
    done = rollout(SETTINGS, "job", now=NOW)
    assert done.finished
    assert done.status == "CANCELED"
    assert done.reason == "FAILURE_THRESHOLD"
    assert done.devices["succeeded"] == 4
    assert done.devices["failed"] == 2
    assert done.devices["canceled"] == 3
    assert done.devices["timedout"] == 0
    assert done.devices["queued"] == 0


def test_a_continuous_job_has_ended_when_every_device_reported(answering: Any) -> None:
    details = {"numberOfSucceededThings": 5, "numberOfFailedThings": 1}
    answering({"status": "IN_PROGRESS", "jobProcessDetails": details, "createdAt": NOW})
    done = rollout(SETTINGS, "job", now=NOW)
    assert done.finished
    assert done.status == "COMPLETED"
    assert done.devices["failed"] == 1
    answering({"status": "IN_PROGRESS", "jobProcessDetails": {}, "createdAt": NOW})
    assert rollout(SETTINGS, "job", now=NOW).reason == "the group has no device"


def test_a_staged_rollout_has_not_ended_while_devices_are_still_to_be_reached(answering: Any) -> None:
    # The first batch reported, the rest not notified yet: no device is queued or in progress
    details = {"numberOfSucceededThings": 2, "processingTargets": ["arn:aws:iot:us-east-1:1:thinggroup/fleet"]}
    answering({"status": "IN_PROGRESS", "jobProcessDetails": details, "createdAt": NOW})
    with pytest.raises(RolloutInProgressError):
        rollout(SETTINGS, "job", now=NOW)


class Context:
    function_name = "edge_controller"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:edge_controller"
    aws_request_id = "request-1"


def load_handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function's app module, loaded afresh with the function's environment."""
    environment = {name.upper(): str(value) for name, value in SETTINGS.model_dump().items()} | {
        "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
        "POWERTOOLS_SERVICE_NAME": "edge_controller",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return load_app("release/edge_controller", environment, monkeypatch)


def test_the_handler_counts_each_finished_rollout_and_its_devices_by_outcome(
    answering: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a rollout the abort criteria canceled: 4 devices took the model, 2 failed, 3 were never reached
    details = {"numberOfSucceededThings": 4, "numberOfFailedThings": 2, "numberOfCanceledThings": 3}
    answering({"status": "CANCELED", "reasonCode": "FAILURE_THRESHOLD", "jobProcessDetails": details, "createdAt": NOW})
    # When the edge workflow's rollout step looks at it
    reply = load_handler(monkeypatch).handler({"step": "rollout", "iot_job_id": "job"}, Context())
    # Then the reply is the rollout, and the dashboard's metrics count it and its devices by outcome
    assert (reply["status"], reply["finished"]) == ("CANCELED", True)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [metric] = [line for line in lines if "_aws" in line]
    assert metric["service"] == "edge_controller"
    assert metric["EdgeRolloutsFinished"] == [1.0]
    assert "EdgeRolloutsUnfinished" not in metric
    counts = {
        name: metric[f"EdgeDevices{name}"] for name in ("Succeeded", "Failed", "Rejected", "TimedOut", "Canceled")
    }
    assert counts == {"Succeeded": [4.0], "Failed": [2.0], "Rejected": [0.0], "TimedOut": [0.0], "Canceled": [3.0]}


def test_a_rollout_is_watched_until_its_deadline(answering: Any) -> None:
    answering({"status": "IN_PROGRESS", "jobProcessDetails": {"numberOfInProgressThings": 2}, "createdAt": NOW})
    with pytest.raises(RolloutInProgressError, match="inprogress"):
        rollout(SETTINGS, "job", now=NOW + timedelta(minutes=29))
    late = rollout(SETTINGS, "job", now=NOW + timedelta(minutes=30))
    assert not late.finished
    assert late.status == "IN_PROGRESS"
    assert "EdgeRolloutMinutes (30)" in late.reason
    assert late.device_outcomes()["Succeeded"] == 0
