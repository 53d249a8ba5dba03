"""Firehose transform: each record becomes one CSV row, is dropped, or fails with its reason.

Records are JSON objects with the label and every feature of the feature schema by name. Empty
records and heartbeats (``{"heartbeat": ...}`` alone, or ``"type": "heartbeat"``) are
``Dropped``. Invalid records are ``ProcessingFailed``; Firehose then writes them under the
stream's error prefix, as raw data only, so their reasons are also written to
``errors/stream/reasons/<date>/<invocationId>.json`` (one object per invocation, so a retried
invocation rewrites the same object). Every input recordId appears exactly once in the answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from conveyor import aws
from conveyor.schema import FeatureSchema, Rejection, csv_row
from conveyor.settings import Settings

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


REASONS_PREFIX = "errors/stream/reasons/"


class TransformSettings(Settings):
    feature_schema: str
    data_bucket_name: str


@dataclass(slots=True)
class Outcome:
    """What happens to one record, with the reason when it failed."""

    record_id: str
    result: Result
    data: str
    reason: Rejection | None = None


@dataclass
class Batch:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(outcome.result for outcome in self.outcomes)

    def response(self) -> dict[str, Any]:
        """The answer Firehose expects."""
        return {"records": [{"recordId": o.record_id, "result": o.result, "data": o.data} for o in self.outcomes]}


def is_heartbeat(document: Any) -> bool:
    return isinstance(document, dict) and (set(document) == {"heartbeat"} or document.get("type") == "heartbeat")


def decode(data: str) -> Any:
    """The JSON document of a record; None for an empty record; a Rejection if it is unreadable."""
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        return Rejection(rule="encoding", message="record data is not base64")
    if not raw or raw.isspace():
        return None
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        return Rejection(rule="encoding", message="record is not UTF-8")
    except json.JSONDecodeError as error:
        return Rejection(rule="json", message=f"record is not JSON: {error.msg}")


def transform_record(schema: FeatureSchema, record_id: str, data: str) -> Outcome:
    """Decide one record: ``data`` is the base64 text Firehose sent."""
    document = decode(data)
    if document is None or is_heartbeat(document):
        return Outcome(record_id, "Dropped", data)
    values = document if isinstance(document, Rejection) else schema.parse_record(document)
    if isinstance(values, Rejection):
        return _failed(record_id, data, values)
    return Outcome(record_id, "Ok", binascii.b2a_base64(csv_row(values).encode(), newline=False).decode())


def _failed(record_id: str, data: str, reason: Rejection) -> Outcome:
    # The reason travels in the returned data as well as in the function's log.
    carried = json.dumps({"reason": reason.model_dump(exclude_none=True), "data": data})
    return Outcome(record_id, "ProcessingFailed", base64.b64encode(carried.encode()).decode(), reason)


def transform_batch(schema: FeatureSchema, records: Iterable[tuple[str, str]]) -> Batch:
    """Decide every ``(recordId, data)`` of a Firehose invocation."""
    return Batch([transform_record(schema, record_id, data) for record_id, data in records])


def record_reasons(bucket: str, invocation_id: str, batch: Batch, now: datetime) -> str | None:
    """Write why each failed record was set aside; the object's key, or None when none failed."""
    failed = [
        {
            "record_id": o.record_id,
            "reason": o.reason.model_dump(exclude_none=True),
            "data": json.loads(base64.b64decode(o.data))["data"],
        }
        for o in batch.outcomes
        if o.reason is not None
    ]
    if not failed:
        return None
    key = f"{REASONS_PREFIX}{now:%Y/%m/%d}/{invocation_id}.json"
    document = {"invocation_id": invocation_id, "written_at": now.isoformat(), "records": failed}
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
    )
    return key
