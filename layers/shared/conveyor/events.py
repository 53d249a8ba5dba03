"""Events Conveyor's functions receive, as pydantic models (only the fields they read).

Both handlers parse with these small models, not Powertools' parser or event data classes, and the
Firehose transform answers with a plain dict, not Powertools' response classes: importing any one
of them imports every event Powertools knows, ≈ 12 ms of CPU per cold start, which took the ratio to
the floor from 1.43 to 1.51 for the Firehose transform (over its 1.5 goal) and from 1.42 to 1.46 for
ingest with ``S3EventBridgeNotificationEvent`` (``conveyor-bench --cold-starts-only``, medians of 3).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    key: str
    size: int = 0
    version_id: str | None = Field(default=None, alias="version-id")


class ObjectCreatedDetail(BaseModel):
    bucket: S3Bucket
    object: S3Object


class ObjectCreated(BaseModel):
    """EventBridge "Object Created" event of an S3 bucket with EventBridge notifications on."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: ObjectCreatedDetail


class FirehoseRecord(BaseModel):
    record_id: str = Field(alias="recordId")
    data: str


class FirehoseTransformation(BaseModel):
    """A Firehose data-transformation invocation: its id and each record's id and base64 data."""

    invocation_id: str = Field(alias="invocationId")
    records: list[FirehoseRecord]


class ModelPackageStateChangeDetail(BaseModel):
    model_package_group_name: str = Field(alias="ModelPackageGroupName")
    model_package_version: int = Field(alias="ModelPackageVersion", ge=1)
    model_package_arn: str = Field(alias="ModelPackageArn")
    model_approval_status: str = Field(alias="ModelApprovalStatus")


class ModelPackageStateChange(BaseModel):
    """The registry's "SageMaker Model Package State Change" event: a package was created or its
    approval status changed."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: ModelPackageStateChangeDetail
