"""A dataset written as ingestion leaves it, straight into a stack's data bucket and ledger.

For tests and benchmarks that start a retraining run without ingesting files first: the parts,
their channel objects (split by :mod:`conveyor.dataset`'s hash) and their ledger records, and the
snapshot document a run's input points at.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.dataset import channel_key, part_name, split_lines
from conveyor.schema import load_schema
from conveyor.state.ledger import ChannelObject, Ledger, Part
from conveyor_tools.stack import Stack
from conveyor_tools.synthetic import csv_text, records

CLAIMED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def write_part(stack: Stack, part_id: str, lines: list[str], created_at: datetime) -> Part:
    """Write ``lines`` (CSV, label first) as the part ``part_id`` and record it in the ledger."""
    s3 = stack.client("s3")
    bucket = stack.outputs["DataBucketName"]
    channels = {}
    for channel, channel_rows in split_lines(part_name(part_id), lines, 20, 10).items():
        body = "".join(channel_rows).encode()
        s3.put_object(Bucket=bucket, Key=channel_key(part_id, channel), Body=body)
        channels[channel] = ChannelObject(key=channel_key(part_id, channel), rows=len(channel_rows), bytes=len(body))
    part = Part(
        part_id=part_id,
        key=part_name(part_id),
        rows=len(lines),
        source_key=f"incoming/{part_id}.csv",
        source_version="null",
        created_at=created_at,
        channels=channels,
    )
    Ledger(stack.outputs["StateTableName"], dynamodb=stack.client("dynamodb")).record_part(part, part_id)
    return part


def seed_run(
    stack: Stack, run_id: str, *, rows: int = 3000, seed: int = 11, shuffle: bool = False, parts: int = 1
) -> dict[str, Any]:
    """``rows`` generated rows in ``parts`` parts and their snapshot; the retraining workflow's input for them."""
    columns = load_schema("predictive_maintenance").columns
    lines = csv_text(records(rows, seed, shuffle_labels=shuffle), columns, header=False).splitlines(keepends=True)
    recorded = [
        write_part(
            stack,
            run_id if parts == 1 else f"{run_id}-{number}",
            lines[number::parts],
            CLAIMED_AT - timedelta(minutes=parts - number),
        )
        for number in range(parts)
    ]
    bucket = stack.outputs["DataBucketName"]
    manifest_key = f"datasets/snapshots/{run_id}.json"
    snapshot = {"run_id": run_id, "parts": [part.model_dump(mode="json") for part in recorded]}
    stack.client("s3").put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(snapshot).encode())
    return {
        "run_id": run_id,
        "trigger": "threshold",
        "claimed_at": CLAIMED_AT.isoformat(),
        "new_rows": rows,
        "dataset": {"bucket": bucket, "manifest_key": manifest_key, "rows": rows, "parts": parts},
    }
