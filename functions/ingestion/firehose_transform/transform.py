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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from conveyor import aws
from conveyor.events import FirehoseRecord, FirehoseTransformation
from conveyor.schema import FeatureSchema, Rejection, csv_row
from conveyor.settings import Settings

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


REASONS_PREFIX = "errors/stream/reasons/"


class TransformSettings(Settings):
    feature_schema: str
    data_bucket_name: str


@dataclass(slots=True)
class Outcome:
    """What happens to one record (as Firehose sent it): its CSV row when Ok, its reason when it failed."""

    record: FirehoseRecord
    result: Result
    row: str = ""
    reason: Rejection | None = None

    @property
    def data(self) -> str:
        """The base64 data answered: the row when Ok, the data as sent when Dropped, and with its reason when failed."""
        if self.result == "Ok":
            return binascii.b2a_base64(self.row.encode(), newline=False).decode()
        if self.reason is None:
            return self.record.data
        # The reason travels in the returned data as well as in the reasons object and the function's log.
        carried = json.dumps({"reason": self.reason.model_dump(exclude_none=True), "data": self.record.data})
        return base64.b64encode(carried.encode()).decode()


@dataclass(frozen=True)
class Batch:
    """Every record's outcome, in the order Firehose sent them, and where the failed ones' reasons went."""

    outcomes: list[Outcome] = field(default_factory=list)
    reasons_key: str | None = None

    def counts(self) -> Counter[str]:
        return Counter(outcome.result for outcome in self.outcomes)

    def response(self) -> dict[str, Any]:
        """The answer Firehose expects, as a plain dict (conveyor/events.py says why not Powertools' classes)."""
        return {
            "records": [{"recordId": o.record.record_id, "result": o.result, "data": o.data} for o in self.outcomes]
        }


def transform(
    settings: TransformSettings, schema: FeatureSchema, invocation: FirehoseTransformation, now: datetime
) -> Batch:
    """Decide every record of a Firehose invocation and write why each failed one was set aside."""
    batch = transform_batch(schema, invocation.records)
    return replace(batch, reasons_key=record_reasons(settings.data_bucket_name, invocation.invocation_id, batch, now))


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


def transform_record(schema: FeatureSchema, record: FirehoseRecord) -> Outcome:
    """Decide one record."""
    document = decode(record.data)
    if document is None or is_heartbeat(document):
        return Outcome(record, "Dropped")
    values = document if isinstance(document, Rejection) else schema.parse_record(document)
    if isinstance(values, Rejection):
        return Outcome(record, "ProcessingFailed", reason=values)
    return Outcome(record, "Ok", csv_row(values))


def transform_batch(schema: FeatureSchema, records: Iterable[FirehoseRecord]) -> Batch:
    """Decide every record of a Firehose invocation."""
    return Batch([transform_record(schema, record) for record in records])


def record_reasons(bucket: str, invocation_id: str, batch: Batch, now: datetime) -> str | None:
    """Write why each failed record was set aside; the object's key, or None when none failed."""
    failed = [
        {"record_id": o.record.record_id, "reason": o.reason.model_dump(exclude_none=True), "data": o.record.data}
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
