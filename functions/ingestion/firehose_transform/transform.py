"""Firehose transform: each record becomes CSV rows, is dropped, or fails with its reason.

A record's data is one JSON object with the label and every feature of the feature schema by
name, or several such objects, one per line (newline-delimited JSON; blank lines and a trailing
newline are fine). Fields the schema does not name are dropped and counted, or get the object
rejected, as the schema's ``unknown_fields`` says. Empty records and heartbeats
(``{"heartbeat": ...}`` alone, or ``"type": "heartbeat"``) are ``Dropped``. The schema's metadata
fields (each optional) are checked and kept: an accepted object's line is its label and features,
then its metadata cells in schema order (CSV-quoted where needed, an event time normalised), so
the files Firehose delivers under incoming/stream/ have every metadata column, as upload
ingestion reads them. Every input recordId appears exactly once in the answer:

- ``Ok`` with one CSV line per accepted object (``FeatureSchema.record_row``), in the record's order;
- ``Dropped`` when the record holds nothing but heartbeats and blank lines;
- ``ProcessingFailed`` when none of its objects is accepted; its answered data carries the reason
  (the first rejected object's, with its ``line`` when the record held several) and the data as
  sent. Firehose then writes the record, as raw data only, under the stream's error prefix.

A record is read as several objects only when it is not one JSON document and has more than one
non-blank line, so a record of one object (even pretty-printed) behaves as it always has.

Why anything was set aside is written to ``errors/stream/reasons/<date>/<invocationId>.json``
(one object per invocation, so a retried invocation rewrites the same object)::

    {"invocation_id": "...", "written_at": "<ISO 8601>",
     "records": [
       {"record_id": "...", "reason": {...}, "data": "<the record, base64>"},
       {"record_id": "...", "index": 1, "line": 3, "reason": {..., "line": 3}, "data": "<the object, base64>"}
     ]}

A failed record of one object is one entry with the record's data, as it always was. Each object
rejected from a record of several, whether that record is ``Ok`` or failed, is an entry of its
own with its position (``index``: 0-based among the record's objects, heartbeats included;
``line``: 1-based line of the record's data) and its bytes in full, so nothing is lost even when
its record is delivered. A ``reason`` is a :class:`~conveyor.schema.Rejection` without its empty
fields.

Splitting adds nothing to the answer beyond the accepted objects' rows (shorter than the objects
themselves), so it stays within Firehose's 6 MB response as the records do.
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
from conveyor.schema import FeatureSchema, Rejection
from conveyor.settings import Settings

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


REASONS_PREFIX = "errors/stream/reasons/"


class TransformSettings(Settings):
    feature_schema: str
    data_bucket_name: str


@dataclass(frozen=True, slots=True)
class RejectedObject:
    """An object of a record of several that was not accepted: where it stood, its bytes and why."""

    index: int
    line: int
    raw: bytes
    reason: Rejection

    def entry(self, record_id: str) -> dict[str, Any]:
        """The object's entry in the reasons object."""
        return {
            "record_id": record_id,
            "index": self.index,
            "line": self.line,
            "reason": self.reason.model_dump(exclude_none=True),
            "data": base64.b64encode(self.raw).decode(),
        }


@dataclass(slots=True)
class Outcome:
    """What happens to one record (as Firehose sent it): its CSV rows when Ok, its reason when it failed,
    the objects of it that were rejected, and the names of the unknown fields dropped from it."""

    record: FirehoseRecord
    result: Result
    row: str = ""
    reason: Rejection | None = None
    rejected: tuple[RejectedObject, ...] = ()
    dropped_fields: tuple[str, ...] = ()

    @property
    def data(self) -> str:
        """The base64 data answered: the rows when Ok, the data as sent when Dropped, and its reason too when failed."""
        if self.result == "Ok":
            return binascii.b2a_base64(self.row.encode(), newline=False).decode()
        if self.reason is None:
            return self.record.data
        # The reason travels in the returned data as well as in the reasons object and the function's log.
        carried = json.dumps({"reason": self.reason.model_dump(exclude_none=True), "data": self.record.data})
        return base64.b64encode(carried.encode()).decode()

    def entries(self) -> list[dict[str, Any]]:
        """The record's entries in the reasons object: each object rejected from it, or itself when it failed whole."""
        if self.rejected:
            return [rejected.entry(self.record.record_id) for rejected in self.rejected]
        if self.reason is None:
            return []
        return [
            {
                "record_id": self.record.record_id,
                "reason": self.reason.model_dump(exclude_none=True),
                "data": self.record.data,
            }
        ]


@dataclass(frozen=True)
class Batch:
    """Every record's outcome, in the order Firehose sent them, and where the reasons for what was set aside went."""

    outcomes: list[Outcome] = field(default_factory=list)
    reasons_key: str | None = None

    def counts(self) -> Counter[str]:
        return Counter(outcome.result for outcome in self.outcomes)

    def dropped_fields(self) -> Counter[str]:
        """How many times each unknown field was dropped from an accepted object."""
        return Counter(name for outcome in self.outcomes for name in outcome.dropped_fields)

    def rejected_objects(self) -> int:
        """How many objects of records of several were rejected (each is in the reasons object)."""
        return sum(len(outcome.rejected) for outcome in self.outcomes)

    def response(self) -> dict[str, Any]:
        """The answer Firehose expects, as a plain dict (conveyor/events.py says why not Powertools' classes)."""
        return {
            "records": [{"recordId": o.record.record_id, "result": o.result, "data": o.data} for o in self.outcomes]
        }


def transform(
    settings: TransformSettings, schema: FeatureSchema, invocation: FirehoseTransformation, now: datetime
) -> Batch:
    """Decide every record of a Firehose invocation and write why each record or object was set aside."""
    batch = transform_batch(schema, invocation.records)
    return replace(batch, reasons_key=record_reasons(settings.data_bucket_name, invocation.invocation_id, batch, now))


def is_heartbeat(document: Any) -> bool:
    return isinstance(document, dict) and (
        (len(document) == 1 and "heartbeat" in document) or document.get("type") == "heartbeat"
    )


def unreadable(error: ValueError, what: str) -> Rejection:
    """Why a record's data, or an object of it, could not be read."""
    if isinstance(error, UnicodeDecodeError):
        return Rejection(rule="encoding", message=f"{what} is not UTF-8")
    if isinstance(error, json.JSONDecodeError):
        return Rejection(rule="json", message=f"{what} is not JSON: {error.msg}")
    return Rejection(rule="encoding", message=f"{what} data is not base64")


def transform_record(schema: FeatureSchema, record: FirehoseRecord) -> Outcome:
    """Decide one record."""
    try:
        raw = binascii.a2b_base64(record.data, strict_mode=True)
    except binascii.Error as error:
        return Outcome(record, "ProcessingFailed", reason=unreadable(error, "record"))
    if not raw.strip():  # empty, or blank lines alone
        return Outcome(record, "Dropped")
    try:
        document = json.loads(raw)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        # Not one JSON document: several objects if it has several lines (stripped, a newline is between two)
        if b"\n" in raw.strip():
            return transform_objects(schema, record, raw)
        document = unreadable(error, "record")
    # A JSON null is a document that is not an object (rejected below), not an empty record
    if is_heartbeat(document):
        return Outcome(record, "Dropped")
    row = document if isinstance(document, Rejection) else schema.record_row(document)
    if isinstance(row, Rejection):
        return Outcome(record, "ProcessingFailed", reason=row)
    # An accepted record holds every schema column: a field beyond them was metadata, or an unknown one, dropped
    dropped = tuple(schema.unknown_field_names(document)) if len(document) > schema.width else ()
    return Outcome(record, "Ok", row, dropped_fields=dropped)


def transform_objects(schema: FeatureSchema, record: FirehoseRecord, raw: bytes) -> Outcome:
    """Decide a record of newline-delimited objects, each on its own."""
    rows: list[str] = []
    rejected: list[RejectedObject] = []
    dropped: list[str] = []
    width = schema.width
    lines = [(number, line) for number, line in enumerate(raw.split(b"\n"), start=1) if line and not line.isspace()]
    for index, (number, line) in enumerate(lines):
        try:
            document = json.loads(line)
        except ValueError as error:
            document = unreadable(error, "object")
        if is_heartbeat(document):
            continue
        row = document if isinstance(document, Rejection) else schema.record_row(document)
        if isinstance(row, Rejection):
            rejected.append(RejectedObject(index, number, line, row.model_copy(update={"line": number})))
        else:
            rows.append(row)
            dropped.extend(schema.unknown_field_names(document) if len(document) > width else ())
    if rows:
        return Outcome(record, "Ok", "".join(rows), rejected=tuple(rejected), dropped_fields=tuple(dropped))
    if not rejected:
        return Outcome(record, "Dropped")
    return Outcome(record, "ProcessingFailed", reason=rejected[0].reason, rejected=tuple(rejected))


def transform_batch(schema: FeatureSchema, records: Iterable[FirehoseRecord]) -> Batch:
    """Decide every record of a Firehose invocation."""
    return Batch([transform_record(schema, record) for record in records])


def record_reasons(bucket: str, invocation_id: str, batch: Batch, now: datetime) -> str | None:
    """Write why each failed record and each rejected object was set aside; the object's key, or None when none was."""
    entries = [entry for o in batch.outcomes if o.reason is not None or o.rejected for entry in o.entries()]
    if not entries:
        return None
    key = f"{REASONS_PREFIX}{now:%Y/%m/%d}/{invocation_id}.json"
    document = {"invocation_id": invocation_id, "written_at": now.isoformat(), "records": entries}
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
    )
    return key
