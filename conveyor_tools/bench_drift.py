"""Drift's cost at ingestion (rows of ``make bench``): the same uploads ingested with and without a champion's
baseline to count their rows into, in turns, so both see the same machine. Times are the process's CPU
time: ingestion runs on one thread, and CPU time does not count the moments another process has the core.

Ingestion runs whole, both passes and the channel objects written, on the S3 and ledger stand-ins of
:mod:`conveyor_tools.bench_ingest`. The baseline is fitted, by the evaluation's own code, on
generated rows of another seed than the uploads'.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from conveyor.drift import Baseline, DriftCounter, measure, sample_every
from conveyor.schema import load_schema
from conveyor_tools.bench_ingest import SCHEMA, CountingS3, ingest_upload
from conveyor_tools.bench_scale import function_module
from conveyor_tools.synthetic import csv_text, records


def training_baseline(rows: int = 20_000) -> Baseline:
    """The baseline the evaluation fits on ``rows`` generated training rows."""
    fit_baseline = function_module("retraining/evaluate_model", "baseline").fit_baseline
    channel_rows = function_module("retraining/evaluate_model", "scoring").ChannelRows
    layout = load_schema(SCHEMA).layout
    matrix = np.array([[row[c] for c in layout.columns] for row in records(rows, seed=99)], dtype=np.float64)
    return fit_baseline("bench", channel_rows(layout=layout, labels=matrix[:, 0], features=matrix[:, 1:]))  # type: ignore[no-any-return]


def _seconds(ingest: Any) -> float:
    started = time.process_time()
    report = ingest()
    elapsed = time.process_time() - started
    if report.outcome != "accepted":
        raise RuntimeError(f"the bench upload was {report.outcome}, not accepted")
    return elapsed


def ingest_with_and_without(size_mb: int, baseline: Baseline, repeats: int) -> tuple[float, float, int]:
    """Median seconds to ingest a ``size_mb`` MB upload with drift tracking and without, measured in turns;
    and the 1-in-N rows it counts."""
    ingest_upload(CountingS3.synthetic(1), baseline=baseline)  # imports and first calls out of the timing
    tracked, plain = [], []
    for _ in range(repeats):
        tracked.append(_seconds(lambda: ingest_upload(CountingS3.synthetic(size_mb), baseline=baseline)))
        plain.append(_seconds(lambda: ingest_upload(CountingS3.synthetic(size_mb))))
    return statistics.median(tracked), statistics.median(plain), sample_every(CountingS3.synthetic(size_mb).size)


def drift_per_part(rows: int, baseline: Baseline, repeats: int) -> tuple[float, float]:
    """Median seconds of drift's own work for a part of ``rows`` rows (counting them into the baseline's
    cells, then measuring a pending histogram); and of ingesting that part without drift."""
    layout = load_schema(SCHEMA).layout
    lines = csv_text(records(rows, seed=5), layout.columns, header=False).splitlines()
    header = (",".join(load_schema(SCHEMA).columns) + "\n").encode()
    body = csv_text(records(rows, seed=5), load_schema(SCHEMA).columns, header=False).encode()
    drift, plain = [], []
    for _ in range(repeats):
        started = time.process_time()
        counter = DriftCounter(baseline, layout)
        counter.add(lines)
        measure(baseline, counter.rows, counter.counts(), 0.2)
        drift.append(time.process_time() - started)
        plain.append(_seconds(lambda: ingest_upload(CountingS3(header, body, 1))))
    return statistics.median(drift), statistics.median(plain)
