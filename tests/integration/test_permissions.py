"""Each role of the stack holds what its flow needs: without a permission, the flow stops safely.

A permission stripped after deploy makes the flow that needs it fail with AccessDenied in the
local cloud, as it would on AWS, and nothing is lost: the input stays where it was and the
event reaches the dead-letter queue, or the workflow fails, notifies and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conveyor.schema import load_schema
from conveyor.state.ledger import Ledger
from conveyor_tools.stack import keys, model_packages, read_object, training_jobs
from conveyor_tools.synthetic import csv_text, records
from localcloud import LocalCloud
from tests.conftest import TEMPLATE
from tests.helpers import bad_input, run, snapshot

pytestmark = pytest.mark.localcloud

COLUMNS = load_schema("predictive_maintenance").columns


@pytest.fixture
def stack() -> Iterator[LocalCloud]:
    with LocalCloud.from_template(TEMPLATE, parameters={"NumRound": "30", "MinNewRows": "1000000"}) as cloud:
        yield cloud


def revoke(cloud: LocalCloud, role: str, action: str, resource_part: str = "") -> None:
    """Take ``action`` away from the stack's role ``role`` (on resources containing ``resource_part``),
    as a deployment of a narrower template would (CloudFormation's changes raise no security finding).
    """
    with cloud.cloudtrail.deploying():
        _revoke(cloud, role, action, resource_part)


def _revoke(cloud: LocalCloud, role: str, action: str, resource_part: str) -> None:
    iam = cloud.client("iam")
    name = cloud.physical_ids[role].rsplit("/", 1)[-1]
    revoked = False
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = policy_document(iam, name, policy_name)
        kept = []
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if action not in actions:
                kept.append(statement)
                continue
            revoked = True
            others = [a for a in actions if a != action]
            if others:
                kept.append({**statement, "Action": others})
            remaining = [r for r in resources if resource_part not in r] if resource_part else []
            if remaining:
                narrowed = {k: v for k, v in statement.items() if k != "Sid"}
                kept.append({**narrowed, "Action": action, "Resource": remaining})
        document["Statement"] = kept
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    assert revoked, f"{role} has no {action} to revoke"


def policy_document(iam: Any, role_name: str, policy_name: str) -> dict[str, Any]:
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    parsed: dict[str, Any] = json.loads(document) if isinstance(document, str) else document
    return parsed


def ledger(cloud: LocalCloud) -> Ledger:
    return Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))


def dead_letters(cloud: LocalCloud) -> list[dict[str, Any]]:
    """The invocation records in the stack's dead-letter queue.

    It is the ingest function's on-failure destination and its dead-letter queue too: Lambda sends
    a failed event to both, so the queue also holds the bare event beside each record.
    """
    sqs = cloud.client("sqs")
    messages = sqs.receive_message(QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    return [body for body in bodies if "requestContext" in body]


def test_ingest_without_its_quarantine_permission_keeps_the_upload_and_dead_letters_the_event(
    stack: LocalCloud,
) -> None:
    # Given the ingest function may no longer write under quarantine/
    revoke(stack, "IngestFunctionRole", "s3:PutObject", "quarantine/")
    # When a bad file is uploaded
    body = bad_input("csv/label_text.csv")
    stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/bad.csv", Body=body)
    stack.run_until_idle()
    # Then the upload is still where it was, nothing was quarantined or added to the dataset
    assert keys(stack, "incoming/") == ["incoming/bad.csv"]
    assert keys(stack, "quarantine/") == []
    assert keys(stack, "datasets/") == []
    # And the event reached the dead-letter queue with the access denial as its reason
    (letter,) = dead_letters(stack)
    assert letter["requestPayload"]["detail"]["object"]["key"] == "incoming/bad.csv"
    assert letter["responsePayload"]["errorType"] == "AccessDenied"


def test_ingest_after_the_permission_is_restored_handles_the_same_upload_once(stack: LocalCloud) -> None:
    # Given an upload whose ingestion failed for a missing permission
    revoke(stack, "IngestFunctionRole", "s3:PutObject", "datasets/")
    rows = csv_text(records(20, 3), COLUMNS, header=True).encode()
    stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/good.csv", Body=rows)
    stack.run_until_idle()
    assert keys(stack, "datasets/") == []
    (letter,) = dead_letters(stack)
    # When the permission is back and the dead letter is replayed to the function
    stack.client("cloudformation")  # the stack itself is unchanged; only the role is repaired
    iam = stack.client("iam")
    name = stack.physical_ids["IngestFunctionRole"].rsplit("/", 1)[-1]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="restore",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{stack.outputs['DataBucketName']}/datasets/*",
                    }
                ],
            }
        ),
    )
    for _ in range(2):
        stack.client("lambda").invoke(
            FunctionName=stack.outputs["IngestFunctionName"], Payload=json.dumps(letter["requestPayload"]).encode()
        )
    # Then the upload became one part, once, its 20 rows in its channel objects
    [part] = ledger(stack).parts()
    assert sum(len(read_object(stack, channel.key).splitlines()) for channel in part.channels.values()) == 20
    assert keys(stack, "datasets/parts/") == sorted(channel.key for channel in part.channels.values())
    assert keys(stack, "incoming/") == []


def test_ingest_that_cannot_set_bad_rows_aside_takes_back_the_good_rows_it_wrote() -> None:
    parameters = {"MinNewRows": "1000000", "RowErrorPolicy": "keep-good-rows"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
        # Given the ingest function may no longer write under quarantine/
        revoke(cloud, "IngestFunctionRole", "s3:PutObject", "quarantine/")
        # When a file of good rows and one bad row is uploaded: its good rows are written first
        rows = csv_text(records(20, 3), COLUMNS, header=True) + "1,298.1,308.6,1551,-3,0,4.2\n"
        cloud.client("s3").put_object(Bucket=cloud.outputs["DataBucketName"], Key="incoming/mixed.csv", Body=rows)
        cloud.run_until_idle()
        # Then no version of a channel object is left, the upload is still there, and the event is a dead letter
        versions = cloud.client("s3").list_object_versions(Bucket=cloud.outputs["DataBucketName"], Prefix="datasets/")
        assert versions.get("Versions", []) == versions.get("DeleteMarkers", []) == []
        assert keys(cloud, "incoming/") == ["incoming/mixed.csv"]
        assert ledger(cloud).parts() == []
        (letter,) = dead_letters(cloud)
        assert letter["responsePayload"]["errorType"] == "AccessDenied"


def test_a_retraining_role_without_create_training_job_fails_the_run_and_registers_nothing(
    stack: LocalCloud,
) -> None:
    # Given the retraining workflow may no longer create training jobs
    revoke(stack, "RetrainingStateMachineRole", "sagemaker:CreateTrainingJob")
    # When a run starts
    described = run(stack, snapshot(stack, "run-000001"))
    # Then it fails, and no model is registered
    assert described["status"] == "FAILED"
    assert model_packages(stack) == []
    history = stack.client("stepfunctions").get_execution_history(executionArn=described["executionArn"])
    failures = [e for e in history["events"] if e["type"] == "TaskFailed"]
    assert any("AccessDenied" in e["taskFailedEventDetails"].get("error", "") for e in failures)


def test_a_training_role_that_cannot_read_the_channels_fails_the_job(stack: LocalCloud) -> None:
    # Given the training role may no longer read the dataset's channels
    revoke(stack, "TrainingRole", "s3:GetObject", "datasets/channels/")
    # When a run starts
    described = run(stack, snapshot(stack, "run-000001"))
    # Then the training job fails on access, and no model is registered
    assert described["status"] == "FAILED"
    assert model_packages(stack) == []
    (job,) = [stack.client("sagemaker").describe_training_job(TrainingJobName=name) for name in training_jobs(stack)]
    assert "AccessDenied" in job["FailureReason"]


def test_passing_the_training_role_needs_pass_role(stack: LocalCloud) -> None:
    # Given the retraining workflow may no longer pass the training role
    revoke(stack, "RetrainingStateMachineRole", "iam:PassRole")
    # When a run starts
    described = run(stack, snapshot(stack, "run-000001"))
    # Then it fails before any training job exists
    assert described["status"] == "FAILED"
    assert training_jobs(stack) == []


def test_firehose_delivery_without_write_permission_keeps_the_records_and_delivers_them_once_allowed(
    stack: LocalCloud,
) -> None:
    # Given the delivery role may no longer write stream output
    iam = stack.client("iam")
    name = stack.physical_ids["IngestStreamRole"].rsplit("/", 1)[-1]
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    original = policy_document(iam, name, policy_name)
    revoke(stack, "IngestStreamRole", "s3:PutObject", "incoming/stream/")
    # When records are put to the stream
    good = [{"Data": json.dumps(r).encode()} for r in records(5, 1)]
    stack.client("firehose").put_record_batch(DeliveryStreamName=stack.outputs["IngestStreamName"], Records=good)
    # Then nothing is delivered yet
    assert keys(stack, "incoming/stream/") == []
    assert keys(stack, "datasets/parts/") == []
    # When the permission is restored and time passes
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(original))
    stack.advance(minutes=5)
    stack.advance(minutes=5)
    # Then the records arrive, once, and are ingested like any stream output
    (part,) = ledger(stack).parts()
    assert sum(len(read_object(stack, channel.key).splitlines()) for channel in part.channels.values()) == 5


def test_a_disabled_key_stops_writes_to_the_data_bucket(stack: LocalCloud) -> None:
    # Given the stack's key is disabled (through CloudFormation, which the security responder leaves alone)
    with stack.cloudtrail.deploying():
        stack.client("kms").disable_key(KeyId=stack.outputs["KeyArn"].rsplit("/", 1)[-1])
    # When anyone writes to the SSE-KMS data bucket
    with pytest.raises(ClientError) as raised:
        stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key="incoming/x.csv", Body=b"x")
    # Then S3 refuses it for the key's state
    assert raised.value.response["Error"]["Code"] == "KMS.DisabledException"


def test_firehose_that_may_not_invoke_its_transform_sets_every_record_aside(stack: LocalCloud) -> None:
    # Given the delivery role may no longer invoke the transform
    revoke(stack, "IngestStreamRole", "lambda:InvokeFunction")
    # When records are put to the stream
    good = [{"Data": json.dumps(r).encode()} for r in records(4, 2)]
    stack.client("firehose").put_record_batch(DeliveryStreamName=stack.outputs["IngestStreamName"], Records=good)
    # Then none reaches the dataset, and every one is under the error prefix with the reason
    assert keys(stack, "datasets/parts/") == []
    (errors,) = keys(stack, "errors/stream/processing-failed/")
    body = read_object(stack, errors)
    documents = [json.loads(line) for line in body.decode().splitlines()]
    assert [d["errorCode"] for d in documents] == ["Lambda.InvokeAccessDenied"] * 4


def test_a_transform_that_may_not_write_its_reasons_fails_the_batch_into_the_error_prefix(stack: LocalCloud) -> None:
    # Given the transform may no longer write why it rejected records
    revoke(stack, "FirehoseTransformFunctionRole", "s3:PutObject")
    # When a batch with a bad record arrives
    batch = [{"Data": json.dumps(r).encode()} for r in records(2, 2)] + [{"Data": b"not json"}]
    stack.client("firehose").put_record_batch(DeliveryStreamName=stack.outputs["IngestStreamName"], Records=batch)
    # Then the whole batch is set aside as a failed invocation: nothing is lost, nothing half-done
    assert keys(stack, "datasets/parts/") == []
    (errors,) = keys(stack, "errors/stream/processing-failed/")
    body = read_object(stack, errors)
    assert [json.loads(line)["errorCode"] for line in body.decode().splitlines()] == ["Lambda.FunctionError"] * 3


def test_a_schedule_whose_role_may_not_invoke_dead_letters_the_invocation() -> None:
    parameters = {"NumRound": "30", "MinNewRows": "1000000", "RetrainSchedule": "rate(1 hour)"}
    with LocalCloud.from_template(TEMPLATE, parameters=parameters) as cloud:
        # Given the schedule's role may no longer invoke its function
        revoke(cloud, "RetrainingScheduleRole", "lambda:InvokeFunction")
        # When the schedule fires
        cloud.advance(minutes=61)
        # Then the invocation reaches the dead-letter queue with the refusal as its reason
        sqs = cloud.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=cloud.outputs["DeadLetterQueueUrl"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
        )["Messages"]
        [attributes] = [m["MessageAttributes"] for m in messages]
        assert attributes["ERROR_CODE"]["StringValue"] == "AccessDeniedException"
        assert attributes["TARGET_ARN"]["StringValue"].endswith(cloud.outputs["ScheduleRetrainingFunctionName"])


def test_a_function_writes_its_output_to_its_log_group_only_while_its_role_allows(stack: LocalCloud) -> None:
    logs = stack.client("logs")
    group = f"/{stack.parameters['ProjectName']}/{stack.parameters['Stage']}/functions/health"

    def events() -> list[str]:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return [
            e["message"]
            for s in streams
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
        ]

    # Given the health function's role may write its logs, an invocation's output reaches the group
    stack.client("lambda").invoke(FunctionName=stack.outputs["HealthFunctionName"])
    written = events()
    assert any("health" in message for message in written)
    # When the role loses logs:PutLogEvents, the function still runs, but its logs are lost
    revoke(stack, "HealthFunctionRole", "logs:PutLogEvents")
    response = stack.client("lambda").invoke(FunctionName=stack.outputs["HealthFunctionName"])
    assert "FunctionError" not in response
    assert events() == written
    assert [name for name, _ in stack.function_logs.lost] == [stack.outputs["HealthFunctionName"]]


def test_the_canary_controller_registers_scalable_targets_only_with_auto_scaling_enabled(stack: LocalCloud) -> None:
    role = stack.client("iam").get_role(RoleName=stack.physical_ids["CanaryControllerFunctionRole"].rsplit("/", 1)[-1])
    scaling = stack.client("application-autoscaling", principal=role["Role"]["Arn"])
    variant = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/conveyor-dev/variant/p1",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    # EndpointAutoScaling is disabled (the default): the role may not register a variant
    with pytest.raises(ClientError) as denied:
        scaling.register_scalable_target(**variant, MinCapacity=1, MaxCapacity=2)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # It may deregister one an earlier deploy left, which would block the next update, and nothing else
    stack.client("application-autoscaling").register_scalable_target(**variant, MinCapacity=1, MaxCapacity=2)
    scaling.deregister_scalable_target(**variant)
    table = {
        "ServiceNamespace": "dynamodb",
        "ResourceId": "table/other",
        "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
    }
    with pytest.raises(ClientError) as denied:
        scaling.deregister_scalable_target(**table)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
