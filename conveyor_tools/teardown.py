"""``conveyor teardown``: empty the buckets ``sam delete`` must delete, keep what ``DeletionPolicy: Retain`` keeps.

CloudFormation deletes a bucket only when it holds nothing, and in a versioned bucket every
object version and delete marker counts: a bucket whose DeletionPolicy is Delete that still
holds anything leaves the stack in DELETE_FAILED. A bucket whose policy is Retain CloudFormation
does not try to delete at all; it stays, with everything in it. So teardown empties the first
kind, leaves the second alone, and names every resource the stack will leave behind, by its
physical id, because the outputs that name them go with the stack.

Policies are read from the deployed stack (its processed template, its resources), not from
template.yaml, so the plan is right for the stack as it was deployed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from conveyor_tools.stack import Stack

BUCKET = "AWS::S3::Bucket"
RETAINING = frozenset({"Retain", "RetainExceptOnCreate"})
"""Deletion policies under which ``DeleteStack`` leaves the resource in place."""
BATCH = 1000
"""Most keys one ``DeleteObjects`` call takes."""
NOTES = {
    "AWS::KMS::Key": "stays enabled, not scheduled for deletion: the kept data is encrypted with it",
    "AWS::DynamoDB::Table": "with its items and point-in-time recovery",
}


class TeardownError(Exception):
    """The stack could not be read, or a bucket would not empty; the message says which and why."""


@dataclass(frozen=True)
class StackResource:
    """One resource of the deployed stack, and what ``DeleteStack`` does to it."""

    logical_id: str
    type: str
    physical_id: str
    deletion_policy: str

    @property
    def retained(self) -> bool:
        """Whether ``DeleteStack`` leaves it in place."""
        return self.deletion_policy in RETAINING


@dataclass(frozen=True)
class Contents:
    """What a bucket holds: each counts against its deletion."""

    versions: int
    """Object versions (current and noncurrent; in a bucket never versioned, its objects)."""
    delete_markers: int
    uploads: int
    """Incomplete multipart uploads."""

    @property
    def empty(self) -> bool:
        return self.versions == self.delete_markers == self.uploads == 0


@dataclass(frozen=True)
class BucketPlan:
    """A bucket of the stack: kept, or emptied so that ``DeleteStack`` can delete it."""

    resource: StackResource
    contents: Contents | None
    """None: the bucket is gone already (deleted by hand)."""

    @property
    def to_empty(self) -> bool:
        return not self.resource.retained and self.contents is not None and not self.contents.empty


@dataclass(frozen=True)
class Plan:
    """What teardown empties, and what outlives ``sam delete``."""

    stack_name: str
    buckets: tuple[BucketPlan, ...]
    retained: tuple[StackResource, ...]
    """Every resource ``DeleteStack`` leaves in place, buckets included."""
    endpoint: str | None
    """The endpoint the releases created, with its status, if it exists: no stack resource, so it outlives the stack."""

    @property
    def to_empty(self) -> tuple[BucketPlan, ...]:
        return tuple(bucket for bucket in self.buckets if bucket.to_empty)


def deletion_policies(template: Mapping[str, Any]) -> dict[str, str]:
    """Each resource's DeletionPolicy in a processed template, by logical id (unset: Delete, the default)."""
    return {
        logical_id: resource.get("DeletionPolicy", "Delete")
        for logical_id, resource in template.get("Resources", {}).items()
    }


def stack_resources(cloudformation: Any, stack_name: str) -> list[StackResource]:
    """The deployed stack's resources, each with the DeletionPolicy its processed template gives it."""
    # Processed: SAM's output, whose logical ids are the ones ListStackResources reports.
    body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as error:
            raise TeardownError(f"stack {stack_name}'s processed template is not JSON: {error}") from error
    policies = deletion_policies(body)
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return [
        StackResource(
            logical_id=summary["LogicalResourceId"],
            type=summary["ResourceType"],
            physical_id=summary.get("PhysicalResourceId", ""),
            deletion_policy=policies.get(summary["LogicalResourceId"], "Delete"),
        )
        for page in pages
        for summary in page["StackResourceSummaries"]
    ]


def contents(s3: Any, bucket: str) -> Contents | None:
    """What ``bucket`` holds; None if it does not exist."""
    try:
        versions = markers = uploads = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            versions += len(page.get("Versions", []))
            markers += len(page.get("DeleteMarkers", []))
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            uploads += len(page.get("Uploads", []))
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchBucket":
            return None
        raise
    return Contents(versions, markers, uploads)


def plan(stack: Stack, stack_name: str) -> Plan:
    """Read the deployed stack: its buckets and what each holds, what it retains, and the endpoint outside it."""
    try:
        resources = stack_resources(stack.client("cloudformation"), stack_name)
        s3 = stack.client("s3")
        buckets = tuple(
            BucketPlan(resource, contents(s3, resource.physical_id))
            for resource in resources
            if resource.type == BUCKET
        )
    except ClientError as error:
        raise TeardownError(f"stack {stack_name} could not be read, nothing was emptied: {error}") from error
    return Plan(stack_name, buckets, tuple(r for r in resources if r.retained), _endpoint(stack))


def _endpoint(stack: Stack) -> str | None:
    name = stack.outputs.get("EndpointName")
    if not name:
        return None
    try:
        status = stack.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]
    except ClientError:
        return None  # never created (SageMaker answers ValidationException): nothing outlives the stack
    return f"{name} ({status})"


def empty(s3: Any, bucket: str) -> Contents:
    """Delete every object version and delete marker of ``bucket`` and abort its incomplete uploads; what it removed.

    It lists again until a listing comes back empty, so objects written meanwhile (the stack still
    runs) go too; whatever is written after it returns is still there for ``DeleteStack`` to trip on.
    """
    try:
        return _empty(s3, bucket)
    except ClientError as error:
        raise TeardownError(f"bucket {bucket} did not empty: {error}; run teardown again once that is fixed") from error


def _empty(s3: Any, bucket: str) -> Contents:
    versions = markers = uploads = 0
    while True:
        listing = s3.list_object_versions(Bucket=bucket, MaxKeys=BATCH)
        found = [(v["Key"], v["VersionId"]) for v in listing.get("Versions", [])]
        found_markers = [(m["Key"], m["VersionId"]) for m in listing.get("DeleteMarkers", [])]
        if not found and not found_markers:
            break
        for batch in _batches(found + found_markers):
            _delete(s3, bucket, batch)
        versions, markers = versions + len(found), markers + len(found_markers)
    while pending := s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        for upload in pending:
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        uploads += len(pending)
    return Contents(versions, markers, uploads)


def _batches(items: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _delete(s3: Any, bucket: str, batch: list[tuple[str, str]]) -> None:
    objects = [{"Key": key, "VersionId": version} for key, version in batch]
    errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True}).get("Errors", [])
    if errors:
        first = errors[0]
        raise TeardownError(
            f"bucket {bucket}: {len(errors)} of {len(batch)} versions would not delete, the first "
            f"{first['Key']} ({first.get('VersionId')}): {first['Code']}: {first['Message']}; fix that "
            "(Object Lock? a bucket policy?) and run teardown again"
        )


def describe(plan: Plan) -> list[str]:
    """The plan as the operator reads it before confirming: each bucket emptied or kept, then every survivor."""
    width = max((len(r.logical_id) for r in (*(b.resource for b in plan.buckets), *plan.retained)), default=0)
    lines = [f"Stack {plan.stack_name}", "", "Buckets"]
    for bucket in plan.buckets:
        lines.append(f"  {bucket.resource.logical_id:<{width}}  {bucket.resource.physical_id}: {_fate(bucket)}")
    if not plan.buckets:
        lines.append("  none")
    lines += ["", "Kept after `sam delete` (DeletionPolicy Retain); note their names, the stack's outputs go with it"]
    for resource in plan.retained:
        note = f": {NOTES[resource.type]}" if resource.type in NOTES else ""
        lines.append(f"  {resource.logical_id:<{width}}  {resource.type} {resource.physical_id}{note}")
    if not plan.retained:
        lines.append("  nothing")
    if plan.endpoint:
        lines += [
            "",
            "Outside the stack: `sam delete` leaves it running, and billed",
            f"  SageMaker endpoint {plan.endpoint}, created by the canary release",
        ]
    return lines


def _fate(bucket: BucketPlan) -> str:
    policy = f"DeletionPolicy {bucket.resource.deletion_policy}"
    if bucket.contents is None:
        return f"gone already ({policy})"
    held = counted(bucket.contents)
    if bucket.resource.retained:
        return f"kept, as it is ({policy}): {held}"
    return f"to empty ({policy}): {held}" if bucket.to_empty else f"empty already ({policy})"


def counted(contents: Contents) -> str:
    """``3 object versions, 1 delete marker, 0 incomplete uploads``."""
    return ", ".join(
        f"{n:,} {noun}{'' if n == 1 else 's'}"
        for n, noun in (
            (contents.versions, "object version"),
            (contents.delete_markers, "delete marker"),
            (contents.uploads, "incomplete upload"),
        )
    )
