"""What starting a retraining run costs as the dataset grows: time and peak memory, flat in rows.

A run starts with the claim and snapshot (``start_due_runs``), then the workflow's two prepare
steps: the compaction plan and the channel manifests. None reads a row, so their cost follows the
number of parts, and compaction keeps that number near rows x bytes per row / CompactionTargetMB.
Each size here is a dataset in that steady state: compacted parts of the target size, plus a day
of fresh small Firehose parts (288, which the plan groups for compaction). The ledger and the
bucket are moto's, in process; the workflow's Distributed Map in between is left out (its cost is
one compaction per group, the same at every size).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from conveyor import aws
from conveyor.compaction import CompactionItem, compacted_id
from conveyor.dataset import CHANNELS, channel_key, channel_of, part_name, split_lines
from conveyor.retraining import RetrainingInput, SnapshotLimits, start_due_runs
from conveyor.schema import load_schema
from conveyor.state.ledger import ChannelObject, Ledger, Part
from conveyor_tools.stack import upload
from conveyor_tools.synthetic import csv_text, records
from localcloud.cloud import LocalCloud
from localcloud.delivery import AtLeastOnce
from localcloud.template import load_sam_template

ROOT = Path(__file__).resolve().parent.parent
SIZES = (10**5, 10**6, 10**7)
TARGET_MB = 64
FRESH_PARTS = 288
SHARES = {"train": 0.7, "validation": 0.2, "test": 0.1}
CLAIM = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BUCKET = "data"


def row_bytes() -> float:
    """Bytes per row of the default schema's CSV."""
    sample = csv_text(records(2000), load_schema("predictive_maintenance").columns, header=False)
    return len(sample) / 2000


def _part(part_id: str, rows: int, per_row: float, created_at: datetime) -> Part:
    """A part's record, its rows shared among the channels as the split shares them on average."""
    channels = {
        channel: ChannelObject(
            key=channel_key(part_id, channel),
            rows=round(rows * SHARES[channel]),
            bytes=round(rows * SHARES[channel] * per_row),
        )
        for channel in CHANNELS
    }
    return Part(
        part_id=part_id,
        key=part_name(part_id),
        rows=rows,
        source_key="",
        source_version="",
        created_at=created_at,
        channels=channels,
    )


def steady_state(rows: int, per_row: float) -> list[Part]:
    """Parts of a dataset of ``rows`` rows: compacted parts of the target size, then a day of fresh small ones."""
    fresh_rows = 300 * FRESH_PARTS
    compacted_rows = max(rows - fresh_rows, 0)
    target_rows = int(TARGET_MB * 1024 * 1024 / per_row)
    start = CLAIM - timedelta(days=30)
    parts = [
        _part(
            f"c{index:06d}",
            min(target_rows, compacted_rows - index * target_rows),
            per_row,
            start + timedelta(hours=index),
        )
        for index in range(math.ceil(compacted_rows / target_rows))
    ]
    parts += [
        _part(f"f{index:06d}", 300, per_row, CLAIM - timedelta(minutes=5 * (FRESH_PARTS - index)))
        for index in range(FRESH_PARTS)
    ]
    return parts


@contextmanager
def _stack() -> Iterator[tuple[Ledger, str]]:
    """A state table from template.yaml's, a bucket and a state machine, in moto."""
    with mock_aws(), mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "us-east-1"}):
        aws.client.cache_clear()
        properties = load_sam_template(ROOT / "template.yaml")["Resources"]["StateTable"]["Properties"]
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="state",
            BillingMode=properties["BillingMode"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
        )
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        machine = boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
            name="retraining", definition=definition, roleArn="arn:aws:iam::123456789012:role/retraining"
        )["stateMachineArn"]
        yield Ledger("state"), machine
    aws.client.cache_clear()


def _seed(ledger: Ledger, parts: list[Part]) -> None:
    for part in parts:
        ledger.record_part(part, f"{BUCKET}/incoming/{part.part_id}#null")


def function_module(function: str, module: str) -> Any:
    """A function's logic module, imported as its handler imports it (by name, from its folder)."""
    sys.path.insert(0, str(ROOT / "functions" / function))
    return importlib.import_module(module)


def start_run(rows: int, per_row: float) -> tuple[float, int, int]:
    """Seconds and peak bytes to claim, snapshot, plan and write the manifests of a run; and the parts listed."""
    channels = function_module("retraining/prepare_channels", "channels")
    parts = steady_state(rows, per_row)
    with _stack() as (ledger, machine):
        _seed(ledger, parts)
        settings = channels.PrepareSettings(
            project_name="conveyor",
            stage="bench",
            conveyor_version="0",
            state_table_name="state",
            data_bucket_name=BUCKET,
            feature_schema="predictive_maintenance",
            compaction_target_mb=TARGET_MB,
        )
        tracemalloc.start()
        began = time.perf_counter()
        start_due_runs(
            ledger,
            bucket=BUCKET,
            state_machine_arn=machine,
            min_rows=1,
            trigger="threshold",
            now=CLAIM,
            limits=SnapshotLimits(),
        )
        snapshot = json.loads(
            aws.client("s3").get_object(Bucket=BUCKET, Key="datasets/snapshots/run-000001.json")["Body"].read()
        )
        total = sum(part["rows"] for part in snapshot["parts"])
        run = RetrainingInput.model_validate(
            {
                "run_id": "run-000001",
                "trigger": "threshold",
                "claimed_at": CLAIM,
                "new_rows": total,
                "dataset": {
                    "bucket": BUCKET,
                    "manifest_key": "datasets/snapshots/run-000001.json",
                    "rows": total,
                    "parts": len(snapshot["parts"]),
                },
            }
        )
        channels.plan_compaction(settings, run)
        written = channels.write_manifests(settings, ledger, run)
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return elapsed, peak, written.parts


def old_split_seconds(rows: int) -> float:
    """Seconds the retraining workflow took, before the split moved to ingestion, to split ``rows`` rows
    already in memory (its S3 reads and writes left out): the baseline the flat cost is compared with."""
    lines = csv_text(records(2000), load_schema("predictive_maintenance").columns, header=False).splitlines()
    began = time.perf_counter()
    channels: dict[str, list[str]] = {channel: [] for channel in CHANNELS}
    for line in range(rows):
        channels[channel_of(part_name("old"), line, 20, 10)].append(lines[line % len(lines)])
    return time.perf_counter() - began


def run_start(repeats: int = 3) -> list[dict[str, Any]]:
    """Per size: median seconds and peak MiB to start a run, and the parts it lists."""
    per_row = row_bytes()
    measured = []
    for rows in SIZES:
        samples = [start_run(rows, per_row) for _ in range(repeats)]
        measured.append(
            {
                "rows": rows,
                "parts": samples[0][2],
                "seconds": statistics.median(sample[0] for sample in samples),
                "peak_mib": statistics.median(sample[1] for sample in samples) / 2**20,
            }
        )
    return measured


if __name__ == "__main__":
    print(f"old split of {SIZES[0]} rows: {old_split_seconds(SIZES[0]):.3f} s")
    for size in run_start():
        print(size)


def burst(files: int = 2000) -> dict[str, Any]:
    """Land ``files`` uploads at once through the local cloud, delivered at least once with conflicts
    injected; what the counter holds against the rows sent, and how many transactions were cancelled."""
    header = ",".join(load_schema("predictive_maintenance").columns)
    row = "0,298.1,308.6,1551,42.8,0,4.2"
    sizes = [1 + number % 4 for number in range(files)]
    delivery = AtLeastOnce(seed=3, conflict_rate=0.2)
    template = ROOT / "template.yaml"
    with LocalCloud.from_template(template, parameters={"MinNewRows": "100000000"}, delivery=delivery) as cloud:
        began = time.perf_counter()
        for number, rows in enumerate(sizes):
            upload(cloud, f"backfill/{number:05d}.csv", (header + "\n" + f"{row}\n" * rows).encode())
        cloud.run_until_idle(timeout=1800)
        elapsed = time.perf_counter() - began
        counted = Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb")).counter().total_rows
        conflicts = sum(count for name, count in cloud.deliveries.refused.items() if name.endswith(":conflict"))
    return {
        "files": files,
        "rows_sent": sum(sizes),
        "rows_counted": counted,
        "conflicts": conflicts,
        "seconds": elapsed,
    }


def migration(rows: int = 200_000) -> dict[str, float]:
    """Seconds per million rows to lay a part out in another schema's columns (predictive_maintenance to
    predictive_maintenance_v2), against compacting the same part in its own columns (a plain copy)."""
    compaction = function_module("retraining/compact_parts", "part_compaction")
    old, new = load_schema("predictive_maintenance"), load_schema("predictive_maintenance_v2")
    sample = csv_text(records(2000), old.columns, header=False).splitlines(keepends=True)
    lines = [sample[index % len(sample)] for index in range(rows)]
    seconds = {}
    with _stack() as (ledger, _):
        settings = compaction.CompactSettings(
            project_name="conveyor",
            stage="bench",
            conveyor_version="0",
            state_table_name="state",
            data_bucket_name=BUCKET,
        )
        s3 = aws.client("s3")
        for name, target in (("copy", old.layout), ("migration", new.layout)):
            part_id = f"bench-{name}"
            channels = {}
            for channel, channel_rows in split_lines(part_name(part_id), lines, 20, 10).items():
                body = "".join(channel_rows).encode()
                s3.put_object(Bucket=BUCKET, Key=channel_key(part_id, channel), Body=body)
                channels[channel] = ChannelObject(
                    key=channel_key(part_id, channel), rows=len(channel_rows), bytes=len(body)
                )
            part = Part(
                part_id=part_id,
                key=part_name(part_id),
                rows=rows,
                source_key=f"incoming/{part_id}.csv",
                source_version="null",
                created_at=CLAIM,
                channels=channels,
                layout=old.layout,
            )
            ledger.record_part(part, f"{BUCKET}/incoming/{part_id}#null")
            item = CompactionItem(run_id="bench", part_id=compacted_id([part], target), sources=[part], layout=target)
            began = time.perf_counter()
            outcome = compaction.compact(settings, ledger, item)
            seconds[name] = time.perf_counter() - began
            if outcome.outcome != "compacted" or outcome.rows != rows:
                raise RuntimeError(f"the benchmark's {name} compacted {outcome}")
    return {
        "rows": rows,
        "migration": seconds["migration"] * 10**6 / rows,
        "copy": seconds["copy"] * 10**6 / rows,
    }
