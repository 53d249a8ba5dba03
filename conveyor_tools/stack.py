"""Read and drive a deployed Conveyor stack through its outputs, as a user of the stack would.

The demo and the tests use these helpers against the local cloud; they name no emulator
feature, so the operator CLI can use them against a stack deployed on AWS. Each takes a
:class:`Stack`: anything with the stack's outputs and a boto3 client per service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from conveyor.aws import split_s3_uri

UPLOADS = "incoming/uploads/"
"""Where users upload files for ingestion, in the data bucket."""
RETRAINING = "RetrainingStateMachineArn"
"""The output naming the retraining workflow, the default of the execution helpers."""


class Stack(Protocol):
    """A deployed stack: ``LocalCloud``, or a client of a stack on AWS."""

    @property
    def outputs(self) -> Mapping[str, str]:
        """The stack's CloudFormation outputs, by output key."""
        ...

    def client(self, service: str) -> Any:
        """A boto3 client for ``service``, in the stack's account and region."""
        ...


def caller_arn(stack: Stack) -> str:
    """Who is calling: the ARN STS reports for the stack's credentials, recorded as who decided or froze."""
    arn: str = stack.client("sts").get_caller_identity()["Arn"]
    return arn


def upload(stack: Stack, name: str, body: bytes) -> str:
    """Upload ``body`` as ``name`` under incoming/uploads/ of the data bucket; its key."""
    key = UPLOADS + name
    stack.client("s3").put_object(Bucket=stack.outputs["DataBucketName"], Key=key, Body=body)
    return key


def keys(stack: Stack, prefix: str) -> list[str]:
    """The keys under ``prefix`` in the data bucket, sorted."""
    listing = stack.client("s3").get_paginator("list_objects_v2")
    pages = listing.paginate(Bucket=stack.outputs["DataBucketName"], Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def read_object(stack: Stack, key: str) -> bytes:
    """The bytes of the data bucket's object ``key``."""
    body: bytes = stack.client("s3").get_object(Bucket=stack.outputs["DataBucketName"], Key=key)["Body"].read()
    return body


def read_json(stack: Stack, key: str) -> Any:
    """The data bucket's JSON object ``key``, parsed (an error or rejection report, a manifest)."""
    return json.loads(read_object(stack, key))


def executions(stack: Stack, state_machine: str = RETRAINING) -> list[dict[str, Any]]:
    """The executions of the workflow whose ARN is the output ``state_machine``, as listed (newest first)."""
    listing = stack.client("stepfunctions").get_paginator("list_executions")
    pages = listing.paginate(stateMachineArn=stack.outputs[state_machine])
    return [execution for page in pages for execution in page["executions"]]


def described_executions(stack: Stack, state_machine: str = RETRAINING) -> list[dict[str, Any]]:
    """Each execution of the workflow ``state_machine`` described: its input, status and output."""
    sfn = stack.client("stepfunctions")
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in executions(stack, state_machine)]


def model_packages(stack: Stack, status: str | None = None, *, newest_first: bool = True) -> list[dict[str, Any]]:
    """The stack's registered model packages, described; only those of ``status`` (``Approved``) if given."""
    sagemaker = stack.client("sagemaker")
    arguments = {"ModelApprovalStatus": status} if status else {}
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=stack.outputs["ModelPackageGroupName"],
        SortBy="CreationTime",
        SortOrder="Descending" if newest_first else "Ascending",
        **arguments,
    )
    return [
        sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        for page in pages
        for summary in page["ModelPackageSummaryList"]
    ]


def evaluation_report(stack: Stack, package: Mapping[str, Any]) -> Any:
    """The evaluation report a model package points at: its run, metrics, objective and reasons."""
    bucket, key = split_s3_uri(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    return json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def training_jobs(stack: Stack) -> list[str]:
    """The names of the account's SageMaker training jobs."""
    pages = stack.client("sagemaker").get_paginator("list_training_jobs").paginate()
    return [job["TrainingJobName"] for page in pages for job in page["TrainingJobSummaries"]]


def messages(stack: Stack, queue_url: str) -> list[Any]:
    """Every message waiting in the queue, received and deleted; once per id, as an at-least-once consumer reads.

    The id is an SNS notification's ``MessageId`` or an EventBridge event's ``id``.
    """
    sqs = stack.client("sqs")
    by_id: dict[str, Any] = {}
    while received := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in received:
            body = json.loads(message["Body"])
            by_id.setdefault(body.get("MessageId") or body["id"], body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return list(by_id.values())
