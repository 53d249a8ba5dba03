"""Events Conveyor's functions receive, as pydantic models (only the fields they read).

Parsing with these small models instead of Powertools' parser or event data classes keeps cold
starts short: either package imports every event it knows (the data classes cost the Firehose
transform about 9 ms of CPU at each cold start; README, "Cold starts").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    key: str
    size: int = 0
    etag: str | None = None
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
