"""Upload ingestion: validate a file under incoming/, add its good rows to the dataset, set the rest aside.

A file's fate, by ``RowErrorPolicy``:

- every row valid: its rows become an immutable part, split as they are written into channel
  objects ``datasets/parts/<id>/{train,validation,test}.csv`` (no header, label first; see
  :mod:`conveyor.dataset`), with their metadata in sidecars ``<channel>.metadata.csv`` when the
  schema has metadata fields, and count towards the next retraining run;
- a file-level problem (encoding, not valid gzip, header, empty, too large, too many rows), or
  any bad row under ``reject-file``: the file moves to ``quarantine/`` as it came (compressed, if
  gzip) with ``<key>.error.json`` beside it;
- bad rows under ``keep-good-rows``: good rows become a part, bad rows go to
  ``quarantine/<key>.rejected.csv`` with the same ``.error.json``.

A file may be gzip (``x.csv.gz``, or any file that starts as gzip does): it is read decompressed,
its line numbers and rejected rows are those of the CSV it holds, and its rows make the same part
as ``x.csv`` holding them would. Too large is more than ``MaxFileBytes``, as stored and, for gzip,
decompressed.

A file is streamed, never held whole: memory does not grow with its size. It is read twice, since
the part's id depends on every byte and each row's channel on the id: a first pass hashes its
content and checks it is UTF-8 text, the second checks its rows and writes each where it goes.
When the file ends up set aside after rows were written (a bad row under reject-file, a problem
further on), what was written is taken back.

Files under ``incoming/stream/`` come from Firehose and have no header. Each input object is
handled once, whatever number of times its event arrives; and the same bytes written again under
the same key (a new version: a client's or Firehose's retry of a write that had gone through) add
no rows a second time, since a part is named by its key and content. Once the file is handled,
every retraining run now due (``MinNewRows`` pending) is started.

Drift: when the model in service has a drift baseline, a part's rows are counted into its cells as
they are written, and the ledger adds the counts to the pending rows' histogram with the part.
Once ``MinDriftRows`` rows are counted, the histogram is measured against the baseline; a feature
whose population stability index exceeds ``DriftThreshold`` starts a run (trigger ``drift``) though
fewer than ``MinNewRows`` rows are pending (:mod:`conveyor.drift`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

from part_writer import PartWriter
from pydantic import BaseModel, Field
from upload_check import (
    FileCheck,
    check_file,  # noqa: F401 (conveyor_tools/bench.py times ingestion.check_file)
    check_rows,
    fingerprint,
    text_lines,
)

from conveyor import aws
from conveyor.dataset import Channel, part_name
from conveyor.drift import Baseline, DriftCounter, DriftReport, measure, sample_every
from conveyor.events import S3Object
from conveyor.registry import champion_baseline
from conveyor.retraining import SnapshotLimits, start_due_runs
from conveyor.s3_streams import ObjectUpload, StoredObject
from conveyor.schema import FeatureSchema, Rejection
from conveyor.settings import Settings
from conveyor.state.ledger import MAX_DRIFT_CELLS, ChannelObject, Histogram, Ledger, Part

INCOMING = "incoming/"
STREAM = "incoming/stream/"
QUARANTINE = "quarantine/"


RowErrorPolicy = Literal["reject-file", "keep-good-rows"]


class IngestSettings(Settings):
    data_bucket_name: str
    feature_schema: str
    retraining_state_machine_arn: str
    min_new_rows: int
    max_file_bytes: int
    max_file_rows: int
    row_error_policy: RowErrorPolicy
    validation_percent: int
    test_percent: int
    training_window_days: int = 0
    max_training_rows: int = 0
    min_drift_rows: int = Field(default=500, ge=1)
    drift_threshold: float = Field(default=0.2, gt=0)


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
    """What one Object Created event did: its object's report, the pending rows' drift (None without a
    champion's baseline or below ``MinDriftRows``) and the retraining runs it started."""

    drift: DriftReport | None = None
    started_runs: list[str]


def part_id(key: str, content_sha256: str) -> str:
    """The id of the part made of the bytes of SHA-256 ``content_sha256`` under ``key``: the same for
    every version with these bytes (and for gzip of them under ``key`` and ``.gz``)."""
    return hashlib.sha256(f"{key}#{content_sha256}".encode()).hexdigest()[:24]


def ingest(
    settings: IngestSettings, schema: FeatureSchema, ledger: Ledger, s3_object: S3Object, now: datetime
) -> IngestResult:
    """Handle one object created under incoming/ exactly once, then start every retraining run now due."""
    # S3 names every version in the versioned data bucket; "null" is its id for an object written
    # while versioning was off (the id GetObject and CopyObject then take)
    baseline = champion_baseline(settings.state_table_name)
    if baseline is not None and baseline.cells > MAX_DRIFT_CELLS:
        # A schema too wide for a part's transaction: ingestion goes on, without drift
        baseline = None
    report = ingest_object(
        settings,
        schema,
        ledger,
        aws.client("s3"),
        key=s3_object.key,
        version=s3_object.version_id or "null",
        size=s3_object.size,
        now=now,
        baseline=baseline,
    )
    drift = None if baseline is None else pending_drift(settings, ledger, baseline)
    started = start_due_runs(
        ledger,
        bucket=settings.data_bucket_name,
        state_machine_arn=settings.retraining_state_machine_arn,
        min_rows=settings.min_new_rows,
        trigger="threshold",
        now=now,
        limits=SnapshotLimits.model_validate(settings, from_attributes=True),
        drift=drift,
    )
    return IngestResult(**report.model_dump(), drift=drift, started_runs=started)


def pending_drift(settings: IngestSettings, ledger: Ledger, baseline: Baseline) -> DriftReport | None:
    """The pending rows' drift from ``baseline``; None until ``MinDriftRows`` of them are counted."""
    pending = ledger.pending_histogram(baseline.id, baseline.cells)
    if pending.rows < settings.min_drift_rows:
        return None
    return measure(baseline, pending.rows, pending.counts, settings.drift_threshold)


def decide(check: FileCheck, policy: RowErrorPolicy) -> Verdict:
    """A checked file's outcome and its rows kept, derived once from the check and the policy."""
    if check.fatal is None and not check.rows_bad:
        return Verdict("accepted", check.rows_in, check.rows_good)
    if check.fatal is None and policy == "keep-good-rows" and check.rows_good:
        return Verdict("partially-accepted", check.rows_in, check.rows_good)
    return Verdict("quarantined", check.rows_in, 0)


def ingest_object(
    settings: IngestSettings,
    schema: FeatureSchema,
    ledger: Ledger,
    s3: Any,
    *,
    key: str,
    version: str,
    size: int,
    now: datetime,
    baseline: Baseline | None = None,
) -> IngestReport:
    """Handle one object under incoming/ exactly once, counting its rows into ``baseline``'s cells if given."""
    bucket = settings.data_bucket_name
    object_id = ledger.object_id(bucket, key, version)
    if ledger.seen(object_id):
        return IngestReport(key=key, outcome="duplicate", rows_in=0, rows_accepted=0, rows_set_aside=0)
    check, verdict, part, histogram = _take_in(
        settings, schema, s3, key=key, version=version, size=size, now=now, baseline=baseline
    )
    quarantine_key = error_key = None
    if verdict.outcome != "accepted":
        quarantine_key, error_key = _quarantine(
            settings, s3, key=key, version=version, check=check, verdict=verdict, now=now
        )
    if part is None:
        recorded = ledger.record_quarantine(object_id, quarantine_key or "")
    else:
        # Refused when the part is in the dataset already: another delivery of the event, or another
        # version of these bytes, wrote the same channel objects, which the part recorded then names
        recorded = ledger.record_part(part, object_id, histogram)
    s3.delete_object(Bucket=bucket, Key=key)
    return IngestReport(
        key=key,
        # The ledger refuses a second record of the object: another delivery of its event got there first
        outcome=verdict.outcome if recorded else "duplicate",
        rows_in=verdict.rows_in,
        rows_accepted=verdict.rows_accepted,
        rows_set_aside=verdict.rows_set_aside,
        part_key=None if part is None else part.key,
        quarantine_key=quarantine_key,
        error_key=error_key,
    )


def _take_in(
    settings: IngestSettings,
    schema: FeatureSchema,
    s3: Any,
    *,
    key: str,
    version: str,
    size: int,
    now: datetime,
    baseline: Baseline | None,
) -> tuple[FileCheck, Verdict, Part | None, Histogram | None]:
    """Check the file and write its good rows: the check, the verdict, the part written (None if none is)
    and its rows' histogram in ``baseline``'s cells (None without a baseline)."""
    policy = settings.row_error_policy
    if size > settings.max_file_bytes:
        check = FileCheck(fatal=Rejection(rule="too-large", message=f"file exceeds {settings.max_file_bytes} bytes"))
        return check, decide(check, policy), None, None
    upload = StoredObject(s3, settings.data_bucket_name, key, version, size)
    content = fingerprint(upload.chunks(), name=key, max_bytes=settings.max_file_bytes)
    if isinstance(content, Rejection):
        check = FileCheck(fatal=content)
        return check, decide(check, policy), None, None
    identity = part_id(key.removesuffix(".gz"), content)
    counter = None if baseline is None else DriftCounter(baseline, schema.layout, sample_every(size))
    with _Destination(s3, settings, key=key, part_id=identity, counter=counter) as destination:
        check = check_rows(
            schema,
            text_lines(upload.chunks()),
            has_header=not key.startswith(STREAM),
            max_rows=settings.max_file_rows,
            rows=destination,
        )
        verdict = decide(check, policy)
        channels = destination.finish(verdict)
    if verdict.outcome == "quarantined":
        return check, verdict, None, None
    part = Part(
        part_id=identity,
        key=part_name(identity),
        rows=verdict.rows_accepted,
        source_key=key,
        source_version=version,
        created_at=now,
        channels=channels,
        layout=schema.layout,
        newest_event_at=check.newest_event_at,
    )
    histogram = None
    if counter is not None:
        # Each row of a sample stands for ``every`` rows: a large file weighs what its rows do among small ones
        counts = [count * counter.every for count in counter.counts()]
        histogram = Histogram(baseline_id=counter.baseline.id, rows=counter.rows * counter.every, counts=counts)
    return check, verdict, part, histogram


class _Destination:
    """Where checked rows go as they come: good rows into the part's channel objects, bad rows (under
    keep-good-rows) into ``quarantine/<key>.rejected.csv``.

    Under reject-file a bad row sets the whole file aside: what was written is taken back at once
    and nothing more is written. Leaving the ``with`` block on an error takes everything back. Good
    rows are also counted by ``counter``, when drift is tracked.
    """

    def __init__(
        self, s3: Any, settings: IngestSettings, *, key: str, part_id: str, counter: DriftCounter | None = None
    ) -> None:
        bucket = settings.data_bucket_name
        self._counter = counter
        self._part: PartWriter | None = PartWriter(
            s3, bucket, part_id, settings.validation_percent, settings.test_percent
        )
        self._rejected = (
            ObjectUpload(s3, bucket, _rejected_key(key)) if settings.row_error_policy == "keep-good-rows" else None
        )

    def good_rows(self, lines: list[str], metadata: list[str] | None) -> None:
        if self._part is not None:
            self._part.add(lines, metadata)
            if self._counter is not None:
                self._counter.add(lines)

    def bad_rows(self, lines: list[str]) -> None:
        if self._rejected is not None:
            self._rejected.write(("\n".join(lines) + "\n").encode())
        elif self._part is not None:
            self._part.discard()
            self._part = None

    def finish(self, verdict: Verdict) -> dict[Channel, ChannelObject]:
        """Finish what the verdict keeps and take back the rest: the part's channel objects, if it is kept."""
        if verdict.outcome == "quarantined" or self._part is None:
            self.discard()
            return {}
        channels = self._part.close()
        if self._rejected is not None and verdict.outcome == "partially-accepted":
            self._rejected.close()
        return channels

    def discard(self) -> None:
        if self._part is not None:
            self._part.discard()
        if self._rejected is not None:
            self._rejected.discard()

    def __enter__(self) -> _Destination:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is not None:
            self.discard()


def _quarantine_target(key: str) -> str:
    return QUARANTINE + key.removeprefix(INCOMING)


def _rejected_key(key: str) -> str:
    return f"{_quarantine_target(key)}.rejected.csv"


def _quarantine(
    settings: IngestSettings,
    s3: Any,
    *,
    key: str,
    version: str,
    check: FileCheck,
    verdict: Verdict,
    now: datetime,
) -> tuple[str, str]:
    """Set the file aside (its bad rows are already), with the reasons beside it: the two keys."""
    bucket = settings.data_bucket_name
    target = _quarantine_target(key)
    if verdict.outcome == "quarantined":
        quarantine_key = target
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key, "VersionId": version})
    else:
        quarantine_key = _rejected_key(key)
    errors = [check.fatal] if check.fatal else check.rejections
    errors_total = 1 if check.fatal else check.rows_bad
    document = {
        "bucket": bucket,
        "key": key,
        "version_id": version,
        "quarantined_at": now.isoformat(),
        "row_error_policy": settings.row_error_policy,
        "outcome": verdict.outcome,
        "rows": {"in": verdict.rows_in, "accepted": verdict.rows_accepted, "set_aside": verdict.rows_set_aside},
        # The check keeps the first MAX_REPORTED_ERRORS reasons, and counts every bad row
        "errors": [e.model_dump(exclude_none=True) for e in errors],
        "errors_total": errors_total,
        "errors_truncated": errors_total > len(errors),
    }
    error_key = f"{target}.error.json"
    s3.put_object(
        Bucket=bucket,
        Key=error_key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    return quarantine_key, error_key
