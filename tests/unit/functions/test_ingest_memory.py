"""Ingestion holds a few pieces of an upload at a time, never the upload: its memory does not grow with it.

The S3 here streams the upload as it is read and keeps nothing written (moto would hold every
object). Chunks, reads and parts are made small, so that a 20 MB upload is hundreds of each and a
test of it is quick; the stack's sizes (conveyor_tools.bench_ingest measures them on 500 MB) move
the level, not the shape. Cells carry long runs of zeros (numbers all the same to the schema), so
that 20 MB is few rows: tracemalloc slows each allocation, and rows are what allocate. A gzip
upload holds the same CSV, each block of rows a gzip member, and is measured by the CSV it holds.
"""

from __future__ import annotations

import tracemalloc

import gzip_stream
import pytest
import upload_check

from conveyor import s3_streams
from conveyor.schema import load_schema
from conveyor_tools.bench_ingest import KEY, CountingS3, ingest_upload, ingestion_module
from conveyor_tools.synthetic import records

SCHEMA = load_schema("predictive_maintenance")
MB = 1_000_000
PADDING = "0" * 40


def padded(value: float | int) -> str:
    """``value`` with zeros that change nothing: before an int, after a float's digits."""
    return f"{PADDING}{value}" if isinstance(value, int) else f"{value}{PADDING}"


def upload_of(size_mb: int) -> CountingS3:
    """An upload of ``size_mb`` MB: blocks of 80 rows set aside, then 4000 good ones (so both kinds are written)."""
    cells = [[padded(record[column]) for column in SCHEMA.columns] for record in records(100)]
    good = [",".join(row) for row in cells]
    bad = [",".join([*row[:4], f"-{row[4]}", *row[5:]]) for row in cells[:80]]  # torque below its minimum
    block = "".join(line + "\n" for line in bad + good * 40).encode()
    return CountingS3((",".join(SCHEMA.columns) + "\n").encode(), block, -(-size_mb * MB // len(block)))


def peak_of_ingesting(s3: CountingS3, key: str = KEY) -> int:
    ingestion_module()  # the function's modules are imported at its cold start, not while it ingests
    tracemalloc.start()
    try:
        report = ingest_upload(s3, row_error_policy="keep-good-rows", key=key)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.outcome == "partially-accepted"
    assert s3.written > s3.content_size // 10
    return peak


@pytest.fixture(autouse=True)
def _small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_check, "CHUNK_ROWS", 512)
    # Both uploads' reports keep as many reasons: the kept reasons stop growing at this limit
    monkeypatch.setattr(upload_check, "MAX_REPORTED_ERRORS", 100)
    monkeypatch.setattr(s3_streams, "READ_BYTES", 128 << 10)
    monkeypatch.setattr(s3_streams, "PART_BYTES", 128 << 10)
    monkeypatch.setattr(gzip_stream, "PIECE_BYTES", 128 << 10)


def test_a_20_mb_upload_is_ingested_in_a_few_mb() -> None:
    # Given a 20 MB upload
    s3 = upload_of(20)
    # When it is ingested, good rows into the channels and bad ones aside, both in parts
    peak = peak_of_ingesting(s3)
    # Then ingestion held a small part of it at most
    assert peak < 3 * MB < s3.size / 6


def test_an_upload_4_times_larger_takes_no_more_memory() -> None:
    ingest_upload(upload_of(1), row_error_policy="keep-good-rows")  # imports and first calls, not measured
    small, large = peak_of_ingesting(upload_of(5)), peak_of_ingesting(upload_of(20))
    assert large < small * 1.2


def test_a_20_mb_gzip_upload_is_ingested_in_a_few_mb() -> None:
    # Given 20 MB of CSV, gzipped
    s3 = upload_of(20).gzipped()
    # When it is ingested, decompressed as it is read
    peak = peak_of_ingesting(s3, key=KEY + ".gz")
    # Then ingestion held a small part of the CSV at most: what it holds of the CSV uncompressed, and
    # a compressed chunk and a decompressed piece or two (128 KiB each here)
    assert s3.size < s3.content_size / 10
    assert peak < 4 * MB < s3.content_size / 4


def test_a_gzip_upload_4_times_larger_takes_no_more_memory() -> None:
    ingest_upload(upload_of(1).gzipped(), row_error_policy="keep-good-rows", key=KEY + ".gz")  # first calls
    small = peak_of_ingesting(upload_of(5).gzipped(), key=KEY + ".gz")
    large = peak_of_ingesting(upload_of(20).gzipped(), key=KEY + ".gz")
    assert large < small * 1.2
