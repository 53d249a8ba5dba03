"""Upload ingestion: validate a file under incoming/, add its good rows to the dataset, set the rest aside.

A file's fate, by ``RowErrorPolicy``:

- every row valid: its rows become an immutable part ``datasets/parts/<id>.csv`` (no header,
  label first) and count towards the next retraining run;
- a file-level problem (encoding, header, empty, too large, too many rows), or any bad row under
  ``reject-file``: the file moves to ``quarantine/`` with ``<key>.error.json`` beside it;
- bad rows under ``keep-good-rows``: good rows become a part, bad rows go to
  ``quarantine/<key>.rejected.csv`` with the same ``.error.json``.

Files under ``incoming/stream/`` come from Firehose and have no header. Each input object is
handled once, whatever number of times its event arrives; and the same bytes written again under
the same key (a new version: a client's or Firehose's retry of a write that had gone through) add
no rows a second time, since a part is named by its key and content. Once the file is handled,
every retraining run now due (``MinNewRows`` pending) is started.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice, repeat
from typing import Any, Literal, cast

from pydantic import BaseModel

from conveyor import aws
from conveyor.events import S3Object
from conveyor.retraining import SnapshotLimits, start_due_runs
from conveyor.schema import FeatureSchema, Rejection, csv_row
from conveyor.settings import Settings
from conveyor.state.ledger import Ledger, Part

INCOMING = "incoming/"
STREAM = "incoming/stream/"
QUARANTINE = "quarantine/"
PARTS = "datasets/parts/"
MAX_REPORTED_ERRORS = 1000
# Rows read and checked column by column at a time; a chunk with a bad row is checked again row by row.
CHUNK_ROWS = 16_384


RowErrorPolicy = Literal["reject-file", "keep-good-rows"]


class IngestSettings(Settings):
    data_bucket_name: str
    feature_schema: str
    retraining_state_machine_arn: str
    min_new_rows: int
    max_file_bytes: int
    max_file_rows: int
    row_error_policy: RowErrorPolicy
    training_window_days: int = 0
    max_training_rows: int = 0


@dataclass
class FileCheck:
    """The verdict on one file: its good rows (as CSV lines) and what was wrong."""

    rows_in: int = 0
    good: list[str] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    fatal: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What becomes of a checked file: its outcome, and how many of its rows join the dataset."""

    outcome: Literal["accepted", "partially-accepted", "quarantined"]
    rows_in: int
    rows_accepted: int

    @property
    def rows_set_aside(self) -> int:
        return self.rows_in - self.rows_accepted


class IngestReport(BaseModel):
    """What happened to one input object."""

    key: str
    outcome: Literal["accepted", "partially-accepted", "quarantined", "duplicate"]
    rows_in: int
    rows_accepted: int
    rows_set_aside: int
    part_key: str | None = None
    quarantine_key: str | None = None
    error_key: str | None = None


class IngestResult(IngestReport):
    """What one Object Created event did: its object's report and the retraining runs it started."""

    started_runs: list[str]


def check_file(schema: FeatureSchema, body: bytes, *, has_header: bool, max_rows: int) -> FileCheck:
    """Validate a CSV file against the schema: its good rows as lines, and every reason with its 1-based line.

    Rows are read in chunks and checked column by column (``FeatureSchema.parse_rows``). A chunk
    that is not all good data rows (a bad or blank row, the header, the row limit, a CSV error) is
    read again and checked row by row, which gives each reason its line.
    """
    check = FileCheck()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        bad = body[error.start : error.end + 8]
        check.fatal = Rejection(rule="encoding", message="file is not UTF-8", line=line, value=repr(bad))
        return check
    if not text.strip():
        check.fatal = Rejection(rule="empty-file", message="file is empty")
        return check
    for chunk in _chunks(text):
        known = None if chunk.rows is None else schema.parse_rows(chunk.rows)
        may_hold_header = has_header and chunk.lines_before == 0
        if known is None or None in known or may_hold_header or check.rows_in + len(known) > max_rows:
            _check_text(schema, chunk, known, check, has_header=has_header, max_rows=max_rows)
            if check.fatal is not None:
                break
        else:
            check.rows_in += len(known)
            check.good += cast(list[str], known)  # None is not in it
    if check.fatal is None and check.rows_in == 0:
        check.fatal = Rejection(rule="empty-file", message="file has no data rows", line=1 if has_header else None)
    return check


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Rows read together, their text, and the number of lines before them; no rows at a CSV error."""

    text: str
    lines_before: int
    rows: list[list[str]] | None


def _chunks(text: str) -> Iterator[_Chunk]:
    """A file's rows: the first alone (it may be the header), then CHUNK_ROWS at a time, up to any CSV error."""
    source = io.StringIO(text, newline="")
    reader = csv.reader(source, strict=True)
    for size in chain([1], repeat(CHUNK_ROWS)):
        # csv.reader reads no further than the rows it returns: the text between two tell()s holds them
        start, lines_before = source.tell(), reader.line_num
        try:
            rows = list(islice(reader, size))
        except csv.Error:
            yield _Chunk(text[start : source.tell()], lines_before, None)
            return
        if not rows:
            return
        yield _Chunk(text[start : source.tell()], lines_before, rows)


def _check_text(
    schema: FeatureSchema,
    chunk: _Chunk,
    known: list[str | None] | None,
    check: FileCheck,
    *,
    has_header: bool,
    max_rows: int,
) -> None:
    """Read a chunk again and check its rows one by one; ``known`` has the lines of the rows found good."""
    reader = csv.reader(io.StringIO(chunk.text, newline=""), strict=True)
    try:
        _check_rows(
            schema, reader, known, check, lines_before=chunk.lines_before, has_header=has_header, max_rows=max_rows
        )
    except csv.Error as error:
        line = chunk.lines_before + reader.line_num
        check.fatal = Rejection(rule="csv", message=f"file is not valid CSV: {error}", line=line)


def _check_rows(
    schema: FeatureSchema,
    reader: Any,
    known: list[str | None] | None,
    check: FileCheck,
    *,
    lines_before: int,
    has_header: bool,
    max_rows: int,
) -> None:
    # A chunk that ends in a CSV error has no rows read, so none known good
    for cells, known_line in zip(reader, repeat(None) if known is None else known, strict=False):
        line = lines_before + reader.line_num
        if known_line is None and (not cells or all(not cell.strip() for cell in cells)):
            continue
        if has_header and line == 1:
            header = [cell.strip() for cell in cells]
            if header != schema.columns:
                check.fatal = Rejection(
                    rule="header",
                    message=f"header must be {','.join(schema.columns)}",
                    line=1,
                    value=",".join(header)[:200],
                )
                return
            continue
        check.rows_in += 1
        if check.rows_in > max_rows:
            check.fatal = Rejection(rule="too-many-rows", message=f"file has more than {max_rows} rows", line=line)
            return
        if known_line is not None:
            check.good.append(known_line)
            continue
        values = schema.parse_row(cells, line)
        if isinstance(values, Rejection):
            check.rejections.append(values)
            check.bad_lines.append(",".join(cells))
        else:
            check.good.append(csv_row(values))


def part_id(key: str, body: bytes) -> str:
    """The id of the part made of ``body`` under ``key``: the same for every version with these bytes."""
    return hashlib.sha256(f"{key}#{hashlib.sha256(body).hexdigest()}".encode()).hexdigest()[:24]


def ingest(
    settings: IngestSettings, schema: FeatureSchema, ledger: Ledger, s3_object: S3Object, now: datetime
) -> IngestResult:
    """Handle one object created under incoming/ exactly once, then start every retraining run now due."""
    # S3 names every version in the versioned data bucket; "null" is its id for an object written
    # while versioning was off (the id GetObject and CopyObject then take)
    report = ingest_object(
        settings,
        schema,
        ledger,
        key=s3_object.key,
        version=s3_object.version_id or "null",
        size=s3_object.size,
        now=now,
    )
    started = start_due_runs(
        ledger,
        bucket=settings.data_bucket_name,
        state_machine_arn=settings.retraining_state_machine_arn,
        min_rows=settings.min_new_rows,
        trigger="threshold",
        now=now,
        limits=SnapshotLimits.model_validate(settings, from_attributes=True),
    )
    return IngestResult(**report.model_dump(), started_runs=started)


def decide(check: FileCheck, policy: RowErrorPolicy) -> Verdict:
    """A checked file's outcome and its rows kept, derived once from the check and the policy."""
    if check.fatal is None and not check.rejections:
        return Verdict("accepted", check.rows_in, len(check.good))
    if check.fatal is None and policy == "keep-good-rows" and check.good:
        return Verdict("partially-accepted", check.rows_in, len(check.good))
    return Verdict("quarantined", check.rows_in, 0)


def ingest_object(
    settings: IngestSettings, schema: FeatureSchema, ledger: Ledger, *, key: str, version: str, size: int, now: datetime
) -> IngestReport:
    """Handle one object under incoming/ exactly once."""
    bucket = settings.data_bucket_name
    object_id = ledger.object_id(bucket, key, version)
    if ledger.seen(object_id):
        return IngestReport(key=key, outcome="duplicate", rows_in=0, rows_accepted=0, rows_set_aside=0)
    body = b""
    if size > settings.max_file_bytes:
        check = FileCheck(fatal=Rejection(rule="too-large", message=f"file exceeds {settings.max_file_bytes} bytes"))
    else:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        check = check_file(schema, body, has_header=not key.startswith(STREAM), max_rows=settings.max_file_rows)
    verdict = decide(check, settings.row_error_policy)
    part_key = quarantine_key = error_key = None
    if verdict.outcome != "accepted":
        quarantine_key, error_key = _quarantine(
            settings, key=key, version=version, check=check, verdict=verdict, now=now
        )
    if verdict.outcome == "quarantined":
        recorded = ledger.record_quarantine(object_id, quarantine_key or "")
    else:
        identity = part_id(key, body)
        part = Part(
            part_id=identity,
            key=f"{PARTS}{identity}.csv",
            rows=verdict.rows_accepted,
            source_key=key,
            source_version=version,
            created_at=now,
        )
        aws.client("s3").put_object(Bucket=bucket, Key=part.key, Body="".join(check.good).encode())
        part_key = part.key
        recorded = ledger.record_part(part, object_id)
    aws.client("s3").delete_object(Bucket=bucket, Key=key)
    return IngestReport(
        key=key,
        # The ledger refuses a second record of the object: another delivery of its event got there first
        outcome=verdict.outcome if recorded else "duplicate",
        rows_in=verdict.rows_in,
        rows_accepted=verdict.rows_accepted,
        rows_set_aside=verdict.rows_set_aside,
        part_key=part_key,
        quarantine_key=quarantine_key,
        error_key=error_key,
    )


def _quarantine(
    settings: IngestSettings, *, key: str, version: str, check: FileCheck, verdict: Verdict, now: datetime
) -> tuple[str, str]:
    """Set the file, or its bad rows, aside with the reasons beside them: the two keys written."""
    s3 = aws.client("s3")
    bucket = settings.data_bucket_name
    target = QUARANTINE + key.removeprefix(INCOMING)
    if verdict.outcome == "quarantined":
        quarantine_key = target
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key, "VersionId": version})
    else:
        quarantine_key = f"{target}.rejected.csv"
        s3.put_object(Bucket=bucket, Key=quarantine_key, Body=("\n".join(check.bad_lines) + "\n").encode())
    errors = [check.fatal] if check.fatal else check.rejections
    document = {
        "bucket": bucket,
        "key": key,
        "version_id": version,
        "quarantined_at": now.isoformat(),
        "row_error_policy": settings.row_error_policy,
        "outcome": verdict.outcome,
        "rows": {"in": verdict.rows_in, "accepted": verdict.rows_accepted, "set_aside": verdict.rows_set_aside},
        "errors": [e.model_dump(exclude_none=True) for e in errors[:MAX_REPORTED_ERRORS]],
        "errors_truncated": len(errors) > MAX_REPORTED_ERRORS,
    }
    error_key = f"{target}.error.json"
    s3.put_object(
        Bucket=bucket,
        Key=error_key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    return quarantine_key, error_key
