"""Upload ingestion's memory and speed on large uploads: ``python -m conveyor_tools.bench_ingest``.

moto holds whole objects in memory, which would hide what ingestion itself holds, so the bench
gives ``ingest_object`` an S3 of its own: GetObject streams a synthetic upload made as it is read
(a header, then one block of rows over and over), and every write counts its bytes and keeps
none. The ledger keeps its few items in a dict. Both of ingestion's passes over the upload run,
and its rows are written to channel objects as in the stack (multipart past 8 MiB).

The upload is also timed gzipped (``throughput_gzip``, with its speed as a ratio of the plain
file's): each block a gzip member, decompressed as ingestion reads it.

Memory stops growing once each channel fills a part (about 80 MB of upload). tracemalloc sees
every allocation, some fifteen a row, so a traced run takes about 4 times an untraced one: here
about 200 s for 500 MB, against 50 s untraced (``ingest_throughput``).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from conveyor.drift import Baseline
from conveyor.schema import load_schema
from conveyor.state.ledger import Histogram, Ledger, Part
from conveyor_tools.synthetic import csv_text, records

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "predictive_maintenance"
MB = 1_000_000
BLOCK_RECORDS = 10_000
KEY = "incoming/uploads/bench.csv"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class SyntheticBody:
    """A GetObject body: ``header``, then ``block`` ``blocks`` times, made as it is read."""

    def __init__(self, header: bytes, block: bytes, blocks: int) -> None:
        self._pieces: Iterator[bytes] = chain([header], repeat(block, blocks))
        self._piece = b""
        self._offset = 0

    def read(self, amount: int = -1) -> bytes:
        wanted = sys.maxsize if amount < 0 else amount
        read: list[bytes] = []
        size = 0
        while size < wanted:
            if self._offset == len(self._piece):
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._piece, self._offset = piece, 0
            taken = self._piece[self._offset : self._offset + wanted - size]
            self._offset += len(taken)
            size += len(taken)
            read.append(taken)
        return b"".join(read)

    def close(self) -> None:
        self._pieces = iter(())


class CountingS3:
    """The S3 calls ingestion makes: GetObject streams an upload of ``header`` then ``block`` ``blocks``
    times; writes count their bytes and keep nothing.

    ``size`` is the upload's, ``content_size`` that of the CSV it holds (larger for gzip).
    """

    def __init__(self, header: bytes, block: bytes, blocks: int, *, content_size: int | None = None) -> None:
        self._header = header
        self._block = block
        self._blocks = blocks
        self.size = len(header) + len(block) * blocks
        self.content_size = self.size if content_size is None else content_size
        self.written = 0
        self.parts = 0

    @classmethod
    def synthetic(cls, size_mb: int) -> CountingS3:
        """An S3 holding an upload of at least ``size_mb`` MB of synthetic rows, with a header."""
        columns = load_schema(SCHEMA).columns
        block = csv_text(records(BLOCK_RECORDS), columns, header=False).encode()
        return cls((",".join(columns) + "\n").encode(), block, -(-size_mb * MB // len(block)))

    def gzipped(self) -> CountingS3:
        """An S3 holding this upload as gzip: the header and each block a gzip member (gzip reads the
        members as one file), so it too is made as it is read."""
        return CountingS3(
            gzip.compress(self._header), gzip.compress(self._block), self._blocks, content_size=self.content_size
        )

    def get_object(self, **request: Any) -> dict[str, Any]:
        return {"Body": SyntheticBody(self._header, self._block, self._blocks)}

    def put_object(self, *, Body: bytes, **request: Any) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.written += len(Body)
        return {}

    def create_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {"UploadId": "bench"}

    def upload_part(self, *, Body: bytes, PartNumber: int, **request: Any) -> dict[str, Any]:  # noqa: N803
        self.written += len(Body)
        self.parts += 1
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **request: Any) -> dict[str, Any]:
        return {}

    def delete_object(self, **request: Any) -> dict[str, Any]:
        return {}

    def copy_object(self, **request: Any) -> dict[str, Any]:
        return {}


class MemoryLedger(Ledger):
    """The ledger's calls ingestion makes, on a dict of the objects handled."""

    def __init__(self) -> None:
        super().__init__("bench")
        self.handled: dict[str, Part | str] = {}

    def seen(self, object_id: str) -> bool:
        return object_id in self.handled

    def record_part(self, part: Part, object_id: str, histogram: Histogram | None = None) -> bool:
        return self._record(object_id, part)

    def record_quarantine(self, object_id: str, quarantine_key: str) -> bool:
        return self._record(object_id, quarantine_key)

    def _record(self, object_id: str, outcome: Part | str) -> bool:
        if object_id in self.handled:
            return False
        self.handled[object_id] = outcome
        return True


def ingestion_module() -> Any:
    """The ingest function's logic module, imported as its handler imports it (by name, from its folder)."""
    folder = str(ROOT / "functions" / "ingestion" / "ingest")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("ingestion")


def ingest_upload(
    s3: CountingS3, row_error_policy: str = "reject-file", key: str = KEY, baseline: Baseline | None = None
) -> Any:
    """Ingest the upload ``s3`` holds, under ``key``, once (counting its rows into ``baseline``'s cells if
    given, as for a champion with one): the report."""
    ingestion = ingestion_module()
    settings = ingestion.IngestSettings(
        project_name="conveyor",
        stage="bench",
        conveyor_version="bench",
        state_table_name="bench",
        data_bucket_name="bench",
        feature_schema=SCHEMA,
        retraining_state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:bench",
        min_new_rows=1,
        max_file_bytes=s3.content_size,
        max_file_rows=s3.content_size,
        row_error_policy=row_error_policy,
        validation_percent=20,
        test_percent=10,
    )
    schema = load_schema(SCHEMA)
    return ingestion.ingest_object(
        settings, schema, MemoryLedger(), s3, key=key, version="bench", size=s3.size, now=NOW, baseline=baseline
    )


def ingest_memory(sizes_mb: list[int]) -> dict[str, Any]:
    """Peak Python memory (tracemalloc) of ingesting a synthetic upload of each size, and the ratio of the
    largest upload's peak to the smallest's (flat memory: close to 1)."""
    ingest_upload(CountingS3.synthetic(1))  # imports and first calls, before anything is traced
    peaks: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for size_mb in sizes_mb:
        s3 = CountingS3.synthetic(size_mb)
        tracemalloc.start()
        started = time.perf_counter()
        report = ingest_upload(s3)
        seconds[str(size_mb)] = round(time.perf_counter() - started, 1)
        peaks[str(size_mb)] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if report.outcome != "accepted":
            raise RuntimeError(f"the {size_mb} MB upload was {report.outcome}, not accepted")
    smallest, largest = str(min(sizes_mb)), str(max(sizes_mb))
    return {"peak_bytes": peaks, "seconds": seconds, "ratio": round(peaks[largest] / peaks[smallest], 3)}


def ingest_throughput(size_mb: int, *, gzipped: bool = False) -> dict[str, Any]:
    """MB of CSV per second through the whole of ingestion (both passes, rows written), untraced; of
    gzip, MB of the CSV it holds (``bytes``; ``stored_bytes`` is the gzip's)."""
    s3 = CountingS3.synthetic(size_mb).gzipped() if gzipped else CountingS3.synthetic(size_mb)
    ingest_upload(CountingS3.synthetic(1))  # imports and first calls out of the timing
    started = time.perf_counter()
    report = ingest_upload(s3, key=KEY + ".gz" if gzipped else KEY)
    elapsed = time.perf_counter() - started
    if report.outcome != "accepted":
        raise RuntimeError(f"the {size_mb} MB upload was {report.outcome}, not accepted")
    return {
        "bytes": s3.content_size,
        "stored_bytes": s3.size,
        "rows": report.rows_accepted,
        "seconds": round(elapsed, 2),
        "mb_per_second": round(s3.content_size / MB / elapsed, 2),
        "parts_uploaded": s3.parts,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[50, 500], help="upload sizes to trace")
    parser.add_argument("--throughput-mb", type=int, default=50, help="upload size to time untraced (0: skip)")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"memory": ingest_memory(args.sizes_mb)}
    if args.throughput_mb:
        plain = results["throughput"] = ingest_throughput(args.throughput_mb)
        gzipped = ingest_throughput(args.throughput_mb, gzipped=True)
        # The same CSV gzipped, in the same run: its speed as a share of the plain file's
        results["throughput_gzip"] = {**gzipped, "ratio": round(gzipped["mb_per_second"] / plain["mb_per_second"], 2)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
