"""The retraining workflow through the local cloud, with real training on generated data.

Tests taking the ``stack`` fixture run with each event delivered once and in order, and those the
delivery mode can break also with events delivered as AWS may (some twice, some late; DynamoDB now
and then throttling or cancelling a transaction). Notifications and decisions are read as a
consumer of at-least-once deliveries reads them: once per message id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from conveyor.aws import split_s3_uri
from conveyor.dataset import part_name, split_lines
from conveyor.schema import load_schema
from conveyor.state.ledger import Ledger, Part
from conveyor_tools.stack import (
    evaluation_report,
    executions,
    messages,
    model_packages,
    read_json,
    read_object,
    training_jobs,
)
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from localcloud.hosting.container import load_model
from tests.conftest import TEMPLATE
from tests.helpers import COLUMNS, DELIVERIES, freeze_releases, queue, run, snapshot, subscribed_queue

pytestmark = pytest.mark.localcloud

PARAMETERS = {"NumRound": "60", "MinNewRows": "1000000"}
LAYOUT = load_schema("predictive_maintenance").layout
# The at-least-once mode can break only what depends on how events arrive: messages read once per
# id, workflows started exactly once, a refusal read from the state table. What a run decides from
# its data, how it fails and how its job is configured does not: those tests run in order alone.
ORDERED_ONLY = pytest.mark.parametrize("stack", ["ordered"], indirect=True)


@pytest.fixture(params=list(DELIVERIES))
def stack(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE, parameters=PARAMETERS, delivery=DELIVERIES[request.param]) as cloud:
        yield cloud


def notifications(cloud: LocalCloud) -> str:
    return subscribed_queue(cloud, cloud.outputs["NotificationTopicArn"], "notifications")


def test_the_first_run_registers_an_approved_model_measured_on_the_data(stack: LocalCloud) -> None:
    # Given decisions forwarded from the default bus to a queue
    decisions, decisions_arn = queue(stack, "decisions")
    stack.client("events").put_rule(Name="decisions", EventPattern=json.dumps({"source": ["conveyor"]}))
    stack.client("events").put_targets(Rule="decisions", Targets=[{"Id": "q", "Arn": decisions_arn}])
    # When the first run trains on learnable data (an empty registry)
    result = run(stack, snapshot(stack, "run-000001"))
    # Then it succeeds and registers an Approved package whose metric is its AUC on the run's test rows
    assert result["status"] == "SUCCEEDED", result
    [package] = model_packages(stack)
    assert package["ModelApprovalStatus"] == "Approved"
    job = stack.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
    report = evaluation_report(stack, package)
    labels, predictions = scored(stack, report["test"]["manifest"], job["ModelArtifacts"]["S3ModelArtifacts"])
    assert report["objective"]["value"] == pytest.approx(auc(labels, predictions), abs=1e-6)
    assert report["objective"]["value"] > 0.75
    assert report["objective"]["validation_value"] == pytest.approx(validation_auc(stack, "conveyor-dev-run-000001"))
    assert report["test"]["rows_scored"] == len(labels) == report["test"]["rows"] > 0
    assert report["champion"] is None
    metadata = package["CustomerMetadataProperties"]
    assert (metadata["schema_name"], metadata["schema_version"]) == (LAYOUT.schema_name, LAYOUT.version)
    assert metadata["rows_scored"] == str(len(labels))
    assert (
        package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    )
    # And "Model Approved" is on the bus, the registry's approval started both releases for the package,
    # the first release put the model on the endpoint alone, and the edge release had no fleet to reach
    assert sorted(m["detail-type"] for m in messages(stack, decisions)) == [
        "Canary Promoted",
        "Edge Release Skipped",
        "Model Approved",
        "Release Started",
    ]
    for machine in ("EdgeReleaseStateMachineArn", "CanaryReleaseStateMachineArn"):
        assert [e["name"] for e in executions(stack, machine)] == ["package-1"]


def auc(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The area under the ROC curve, from ranks (Mann-Whitney), ties counting half."""
    order = np.argsort(predictions, kind="stable")
    ranks = np.empty(len(predictions))
    ranks[order] = np.arange(1, len(predictions) + 1)
    for value in np.unique(predictions):
        tied = predictions == value
        ranks[tied] = ranks[tied].mean()
    positives = int(labels.sum())
    negatives = len(labels) - positives
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def scored(cloud: LocalCloud, manifest_uri: str, model_data_url: str) -> tuple[np.ndarray, np.ndarray]:
    """The labels of a channel's rows, and the predictions of a model (its model.tar.gz) for them."""
    rows = np.array([[float(cell) for cell in row.split(",")] for row in channel_rows(cloud, manifest_uri)])
    bucket, key = split_s3_uri(model_data_url)
    booster = load_model(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return rows[:, 0], booster.inplace_predict(rows[:, 1:])


def channel_rows(cloud: LocalCloud, manifest_uri: str) -> list[str]:
    """The rows a training job reads through a channel's manifest."""
    prefix, *keys = read_json(cloud, manifest_uri.split("/", 3)[3])
    bucket = cloud.outputs["DataBucketName"]
    assert prefix == {"prefix": f"s3://{bucket}/"}
    return [row for key in keys for row in read_object(cloud, key).decode().splitlines()]


def test_a_run_over_many_small_parts_compacts_them_and_trains_on_the_rows_their_hash_gives(stack: LocalCloud) -> None:
    # Given a snapshot of six small parts, and the channel of each of their rows by the hash of its location
    run_input = snapshot(stack, "run-000001", parts=6)
    ledger = Ledger(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb"))
    written = ledger.parts()
    lines = csv_text(records(3000, 11), COLUMNS, header=False).splitlines()
    expected: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for number in range(6):
        for channel, rows in split_lines(part_name(f"run-000001-{number}"), lines[number::6], 20, 10).items():
            expected[channel] += rows
    expected = {channel: sorted(rows) for channel, rows in expected.items()}
    # When the run starts
    result = run(stack, run_input)
    # Then the Distributed Map compacted them into one part, and the job trained through manifests on the same rows
    assert result["status"] == "SUCCEEDED", result
    [compacted] = ledger.parts()
    assert sorted(compacted.sources) == sorted(part.part_id for part in written)
    job = stack.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
    sources = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in job["InputDataConfig"]}
    assert {source["S3DataType"] for source in sources.values()} == {"ManifestFile"}
    for channel in ("train", "validation"):
        assert sorted(channel_rows(stack, sources[channel]["S3Uri"])) == expected[channel]
    test_manifest = sources["train"]["S3Uri"].replace("train.manifest", "test.manifest")
    assert sorted(channel_rows(stack, test_manifest)) == expected["test"]


@ORDERED_ONLY
def test_a_part_written_before_the_split_is_split_by_the_first_run_that_lists_it(stack: LocalCloud) -> None:
    # Given a part as ingestion wrote it before rows were split: one object, recorded without channels
    bucket = stack.outputs["DataBucketName"]
    body = csv_text(records(2000, 5), COLUMNS, header=False)
    stack.client("s3").put_object(Bucket=bucket, Key=part_name("legacy"), Body=body.encode())
    legacy = Part(
        part_id="legacy",
        key=part_name("legacy"),
        rows=2000,
        source_key="incoming/uploads/old.csv",
        source_version="null",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    ledger = Ledger(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb"))
    ledger.record_part(legacy, "legacy")
    run_input = snapshot(stack, "run-000001")
    document = read_json(stack, run_input["dataset"]["manifest_key"])
    document["parts"].insert(0, legacy.model_dump(mode="json"))
    stack.client("s3").put_object(
        Bucket=bucket, Key=run_input["dataset"]["manifest_key"], Body=json.dumps(document).encode()
    )
    # When a run lists it
    result = run(stack, run_input)
    # Then the run split it with the same hash, and the dataset holds it split from then on
    assert result["status"] == "SUCCEEDED", result
    split = next(part for part in ledger.parts() if part.sources == ["legacy"])
    expected = split_lines(part_name("legacy"), body.splitlines(keepends=True), 20, 10)
    for channel, stored in split.channels.items():
        assert read_object(stack, stored.key).decode() == "".join(expected[channel])


@ORDERED_ONLY
def test_a_run_on_shuffled_labels_is_rejected_and_the_champion_stays(stack: LocalCloud) -> None:
    assert run(stack, snapshot(stack, "run-000001"))["status"] == "SUCCEEDED"
    [champion] = model_packages(stack, "Approved")
    result = run(stack, snapshot(stack, "run-000002", seed=12, shuffle=True))
    assert result["status"] == "SUCCEEDED"
    latest = model_packages(stack)[0]
    assert latest["ModelApprovalStatus"] == "Rejected"
    reasons = evaluation_report(stack, latest)["reasons"]
    assert reasons
    assert all(r.startswith(("below floor", "regression")) for r in reasons)
    assert latest["ModelPackageDescription"].startswith("Rejected")
    assert [p["ModelPackageArn"] for p in model_packages(stack, "Approved")] == [champion["ModelPackageArn"]]
    assert [e["name"] for e in executions(stack, "EdgeReleaseStateMachineArn")] == ["package-1"]


def true_test_labels(cloud: LocalCloud, run_input: dict[str, Any], seed: int) -> None:
    """Put back the true labels of the run's test rows (the rows of ``snapshot(..., seed=seed, shuffle=True)``)."""
    [part] = read_json(cloud, run_input["dataset"]["manifest_key"])["parts"]
    lines = csv_text(records(run_input["dataset"]["rows"], seed), COLUMNS, header=False).splitlines(keepends=True)
    test_rows = split_lines(part_name(part["part_id"]), lines, 20, 10)["test"]
    body = "".join(test_rows).encode()
    cloud.client("s3").put_object(
        Bucket=cloud.outputs["DataBucketName"], Key=part["channels"]["test"]["key"], Body=body
    )


@ORDERED_ONLY
def test_a_second_run_scores_both_models_on_its_test_rows_and_rejects_a_regression(stack: LocalCloud) -> None:
    # Given a champion in service, and a second run whose model learns from shuffled labels
    assert run(stack, snapshot(stack, "run-000001"))["status"] == "SUCCEEDED"
    [champion] = model_packages(stack, "Approved")
    second = snapshot(stack, "run-000002", seed=12, shuffle=True)
    # (its held-out test rows keep their true labels, which the champion has learned)
    true_test_labels(stack, second, seed=12)
    # When the second run is evaluated
    assert run(stack, second)["status"] == "SUCCEEDED"
    # Then both models were scored on the same test rows of the second run
    latest = model_packages(stack)[0]
    report = evaluation_report(stack, latest)
    assert report["test"]["manifest"].endswith("/run-000002/test.manifest")
    challenger_url = latest["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    champion_url = champion["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    labels, challenger_predictions = scored(stack, report["test"]["manifest"], challenger_url)
    _, champion_predictions = scored(stack, report["test"]["manifest"], champion_url)
    assert report["objective"]["value"] == pytest.approx(auc(labels, challenger_predictions), abs=1e-6)
    assert report["champion"]["value"] == pytest.approx(auc(labels, champion_predictions), abs=1e-6)
    assert report["champion"]["stored_value"] == pytest.approx(validation_auc(stack, "conveyor-dev-run-000001"))
    assert report["test"]["rows_scored"] == len(labels) > 0
    # And the package holds both metrics and the row count, and is Rejected for regressing against the champion
    metadata = latest["CustomerMetadataProperties"]
    assert float(metadata["objective_value"]) == pytest.approx(report["objective"]["value"], abs=1e-6)
    assert float(metadata["champion_value"]) == pytest.approx(report["champion"]["value"], abs=1e-6)
    assert metadata["rows_scored"] == str(len(labels))
    assert latest["ModelApprovalStatus"] == "Rejected"
    assert any(reason.startswith("regression") for reason in report["reasons"])
    assert [p["ModelPackageArn"] for p in model_packages(stack, "Approved")] == [champion["ModelPackageArn"]]


@ORDERED_ONLY
def test_a_failed_training_job_notifies_the_job_and_its_reason(stack: LocalCloud) -> None:
    inbox = notifications(stack)
    stack.training_faults.fail_next.append("simulated: the instance ran out of memory")
    result = run(stack, snapshot(stack, "run-000001"))
    assert (result["status"], result["error"]) == ("FAILED", "RetrainingFailed")
    [message] = [m["Message"] for m in messages(stack, inbox)]
    assert "conveyor-dev-run-000001" in message
    assert "simulated: the instance ran out of memory" in message
    assert model_packages(stack) == []


@ORDERED_ONLY
def test_a_throttled_training_request_is_retried_until_it_succeeds(stack: LocalCloud) -> None:
    stack.training_faults.throttle_creates = 3
    result = run(stack, snapshot(stack, "run-000001"))
    assert result["status"] == "SUCCEEDED"
    history = stack.client("stepfunctions").get_execution_history(executionArn=result["executionArn"], maxResults=1000)
    failures = [e["taskFailedEventDetails"]["error"] for e in history["events"] if e["type"] == "TaskFailed"]
    assert failures == ["SageMaker.ThrottlingException"] * 3
    assert training_jobs(stack) == ["conveyor-dev-run-000001"]


def test_a_frozen_stack_refuses_to_train(stack: LocalCloud) -> None:
    freeze_releases(stack)
    result = run(stack, snapshot(stack, "run-000001"))
    assert (result["status"], result["error"]) == ("FAILED", "ReleasesFrozen")
    assert training_jobs(stack) == []


def test_a_duplicate_start_trains_nothing_more(stack: LocalCloud) -> None:
    run_input = snapshot(stack, "run-000001")
    assert run(stack, run_input)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        stack.client("stepfunctions").start_execution(
            stateMachineArn=stack.outputs["RetrainingStateMachineArn"],
            name="run-000001",
            input=json.dumps({"other": 1}),
        )
    stack.run_until_idle()
    assert training_jobs(stack) == ["conveyor-dev-run-000001"]


@ORDERED_ONLY
def test_too_little_data_fails_before_training(stack: LocalCloud) -> None:
    inbox = notifications(stack)
    result = run(stack, snapshot(stack, "run-000001", rows=1))
    assert result["status"] == "FAILED"
    assert training_jobs(stack) == []
    [message] = [m["Message"] for m in messages(stack, inbox)]
    assert "NotEnoughDataError" in message


def test_training_jobs_run_in_the_vpc_the_stack_names() -> None:
    parameters = {**PARAMETERS, "TrainingSubnetIds": "subnet-0a1,subnet-0b2", "TrainingSecurityGroupIds": "sg-0c3"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
        assert run(cloud, snapshot(cloud, "run-000001"))["status"] == "SUCCEEDED"
        job = cloud.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
    assert job["VpcConfig"] == {"Subnets": ["subnet-0a1", "subnet-0b2"], "SecurityGroupIds": ["sg-0c3"]}
    assert job["EnableNetworkIsolation"] is True


def test_without_spot_training_the_job_has_no_spot_wait() -> None:
    with LocalCloud.from_template(TEMPLATE, parameters={**PARAMETERS, "UseSpotTraining": "false"}) as cloud:
        assert run(cloud, snapshot(cloud, "run-000001"))["status"] == "SUCCEEDED"
        job = cloud.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["EnableManagedSpotTraining"] is False


@ORDERED_ONLY
def test_spot_training_waits_at_most_max_wait_seconds(stack: LocalCloud) -> None:
    assert run(stack, snapshot(stack, "run-000001"))["status"] == "SUCCEEDED"
    job = stack.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"]["S3Uri"].endswith("/checkpoints/run-000001/")


def validation_auc(cloud: LocalCloud, job_name: str) -> float:
    job = cloud.client("sagemaker").describe_training_job(TrainingJobName=job_name)
    return float(next(m["Value"] for m in job["FinalMetricDataList"] if m["MetricName"] == "validation:auc"))


def host_reads(cloud: LocalCloud, job_name: str) -> dict[str, list[str]]:
    """The train objects each host of the job downloaded, from its log stream."""
    logs = cloud.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    reads = {}
    for stream in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]:
        host = stream["logStreamName"].split("/")[1].rsplit("-", 1)[0]
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        reads[host] = [
            e["message"].split()[1]
            for e in events
            if e["message"].startswith("Downloaded") and "/train/" in e["message"]
        ]
    return reads


def test_two_training_instances_each_train_on_their_shard_and_learn_what_one_does() -> None:
    # Given the same six parts, in a stack that trains on one instance and in one that trains on two
    aucs = {}
    for count in ("1", "2"):
        # Manual approval: the runs release nothing, which this test does not look at
        parameters = PARAMETERS | {"TrainingInstanceCount": count, "ApprovalMode": "manual"}
        with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
            # When the run trains
            result = run(cloud, snapshot(cloud, "run-000001", parts=6))
            assert result["status"] == "SUCCEEDED", result
            aucs[count] = validation_auc(cloud, "conveyor-dev-run-000001")
            job = cloud.client("sagemaker").describe_training_job(TrainingJobName="conveyor-dev-run-000001")
            [train] = [c for c in job["InputDataConfig"] if c["ChannelName"] == "train"]
            reads = host_reads(cloud, "conveyor-dev-run-000001")
    # Then the second stack's two hosts trained, each on its own share of the run's train objects
    assert job["ResourceConfig"]["InstanceCount"] == 2
    assert train["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert sorted(reads) == ["algo-1", "algo-2"]
    assert all(reads.values())
    assert not set(reads["algo-1"]) & set(reads["algo-2"])
    # And they learned what one instance learned from the same rows
    assert aucs["2"] == pytest.approx(aucs["1"], abs=0.02)
