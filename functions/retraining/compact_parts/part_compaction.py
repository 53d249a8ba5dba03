"""Compact one group of small parts into one part: an item of the retraining workflow's Distributed Map.

Each channel's objects are concatenated, in the group's order, into the new part's channel
object; a part written before the split at ingestion is split here with the same hash. The group
is at most ``CompactionTargetMB`` (or one old part, at most the ``MaxFileBytes`` it was ingested
under), which bounds the memory used. The ledger then swaps the group for the new part in one
transaction, and the replaced objects are tagged for the data bucket's lifecycle to delete.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from conveyor import aws
from conveyor.compaction import REPLACED_TAG, CompactionItem
from conveyor.dataset import CHANNELS, Channel, channel_key, part_name, split_lines
from conveyor.settings import Settings
from conveyor.state.ledger import ChannelObject, Ledger, Part


class CompactSettings(Settings):
    data_bucket_name: str
    validation_percent: int = 20
    test_percent: int = 10


class Compaction(BaseModel):
    part_id: str
    outcome: Literal["compacted", "already-compacted", "sources-gone"]
    rows: int


def _channel_bodies(settings: CompactSettings, part: Part) -> dict[Channel, bytes]:
    """A source part's rows by channel, read from its channel objects or split from its one object."""
    s3 = aws.client("s3")
    bucket = settings.data_bucket_name
    if part.channels:
        return {
            channel: s3.get_object(Bucket=bucket, Key=stored.key)["Body"].read()
            for channel, stored in part.channels.items()
        }
    lines = s3.get_object(Bucket=bucket, Key=part.key)["Body"].read().decode("utf-8").splitlines(keepends=True)
    split = split_lines(
        part.key, [line for line in lines if line.strip()], settings.validation_percent, settings.test_percent
    )
    return {channel: "".join(rows).encode() for channel, rows in split.items()}


def compact(settings: CompactSettings, ledger: Ledger, item: CompactionItem) -> Compaction:
    """Write the group's compacted part and swap it in for the group, once."""
    s3 = aws.client("s3")
    bucket = settings.data_bucket_name
    bodies: dict[Channel, list[bytes]] = {channel: [] for channel in CHANNELS}
    for source in item.sources:
        for channel, body in _channel_bodies(settings, source).items():
            bodies[channel].append(body if body.endswith(b"\n") or not body else body + b"\n")
    channels = {}
    for channel, parts in bodies.items():
        body = b"".join(parts)
        if body:
            key = channel_key(item.part_id, channel)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            channels[channel] = ChannelObject(key=key, rows=body.count(b"\n"), bytes=len(body))
    compacted = Part(
        part_id=item.part_id,
        key=part_name(item.part_id),
        rows=sum(source.rows for source in item.sources),
        source_key="",
        source_version="",
        created_at=max(source.created_at for source in item.sources),
        channels=channels,
        sources=[source.part_id for source in item.sources],
    )
    if ledger.compact(compacted, item.sources):
        _tag_replaced(bucket, item.sources)
        return Compaction(part_id=item.part_id, outcome="compacted", rows=compacted.rows)
    found = ledger.find_parts([item.part_id])
    outcome: Literal["already-compacted", "sources-gone"] = "already-compacted" if found else "sources-gone"
    return Compaction(part_id=item.part_id, outcome=outcome, rows=compacted.rows)


def _tag_replaced(bucket: str, sources: list[Part]) -> None:
    s3 = aws.client("s3")
    name, value = REPLACED_TAG
    for source in sources:
        keys = [stored.key for stored in source.channels.values()] or [source.key]
        for key in keys:
            s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": name, "Value": value}]})
