"""Events Conveyor's functions receive, as pydantic models (only the fields they read).

Parsing with these small models instead of Powertools' parser keeps cold starts short: the parser
package imports every event model it knows.
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
