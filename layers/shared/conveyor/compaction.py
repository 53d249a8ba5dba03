"""Compaction: which small parts of a run's snapshot become one part, decided from their records alone.

Firehose alone writes a part every buffer interval (288 a day), and every part adds up to three
objects to a run's manifests. The retraining workflow compacts the small parts of its snapshot
before it writes them: :func:`plan` groups them here, a Distributed Map compacts each group
(functions/retraining/compact_parts), and the ledger swaps a group for its compacted part in one
transaction. A compacted part is new and immutable, and its id is a hash of the ids it replaces,
so compacting the same group again (a retried item, a replayed run) writes the same objects and
swaps nothing twice. The objects of replaced parts stay in place for the runs that already listed
them; they are tagged, and the data bucket's lifecycle deletes them later.

A part written before rows were split at ingestion (no channel objects) is a group of its own:
compacting it splits it, with the same hash, so its rows keep the channels they always had.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from conveyor.state.ledger import MAX_COMPACTED_SOURCES, Part

REPLACED_TAG = ("conveyor:part", "replaced")
"""The tag on the objects of a replaced part; the data bucket's lifecycle rule deletes them."""


class CompactionItem(BaseModel):
    """One group of parts to compact into the part ``part_id``: an item of the Distributed Map."""

    run_id: str
    part_id: str
    sources: list[Part]


def compacted_id(sources: list[Part]) -> str:
    """The id of the part that replaces ``sources``: the same for the same parts, in any order."""
    names = ",".join(sorted(part.part_id for part in sources))
    return hashlib.sha256(f"compacted:{names}".encode()).hexdigest()[:24]


def plan(run_id: str, parts: list[Part], target_bytes: int, instance_count: int = 1) -> list[CompactionItem]:
    """Groups of consecutive small parts (oldest first), each at most ``target_bytes``, to compact.

    A part of half the target or more is left alone. With several training instances the target
    shrinks so that the snapshot keeps at least one part per instance to shard.
    """
    total = sum(part.bytes for part in parts)
    if instance_count > 1:
        target_bytes = min(target_bytes, max(total // instance_count, 1))
    groups: list[list[Part]] = []
    current: list[Part] = []
    size = 0
    for part in parts:
        if not part.channels:
            groups += [current, [part]]
            current, size = [], 0
            continue
        fits = size + part.bytes <= target_bytes and len(current) < MAX_COMPACTED_SOURCES
        if part.bytes * 2 >= target_bytes or not fits:
            groups.append(current)
            current, size = [], 0
        if part.bytes * 2 < target_bytes:
            current.append(part)
            size += part.bytes
    groups.append(current)
    return [
        CompactionItem(run_id=run_id, part_id=compacted_id(group), sources=group)
        for group in groups
        if len(group) > 1 or (group and not group[0].channels)
    ]
