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

Compaction is also how the dataset follows a schema change. Every part records the layout its
rows are in (:class:`conveyor.schema.Layout`). Compacting a part in another layout than the
schema in force (in a group, or alone if it is big) lays its rows out again in the schema's
columns: a feature new to it is left empty, which XGBoost reads as missing; a feature the schema
dropped is dropped. So the parts a run uses are migrated once, by the items of the run's map,
never by one function. A part whose label is not the schema's cannot be migrated: :func:`plan`
leaves it out (:func:`incompatibility` says why), and the run excludes it.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from conveyor.schema import Layout
from conveyor.state.ledger import MAX_COMPACTED_SOURCES, Part

REPLACED_TAG = ("conveyor:part", "replaced")
"""The tag on the objects of a replaced part; the data bucket's lifecycle rule deletes them."""


class CompactionItem(BaseModel):
    """One group of parts to compact into the part ``part_id``, in ``layout``: an item of the Distributed Map."""

    run_id: str
    part_id: str
    sources: list[Part]
    layout: Layout


def compacted_id(sources: list[Part], layout: Layout) -> str:
    """The id of the part that replaces ``sources`` in ``layout``: the same for the same parts, in any order."""
    names = ",".join(sorted(part.part_id for part in sources))
    return hashlib.sha256(f"compacted:{layout.version}:{names}".encode()).hexdigest()[:24]


def layout_of(part: Part, current: Layout) -> Layout:
    """The layout of ``part``'s rows: the one it recorded, or (recorded before parts recorded one) ``current``."""
    return part.layout or current


def incompatibility(part: Part, current: Layout) -> str | None:
    """Why ``part`` cannot be laid out in ``current`` (its label is another), or None if it can."""
    layout = layout_of(part, current)
    if layout.label == current.label:
        return None
    return (
        f"its label {layout.label.name} {layout.label.values} ({layout.schema_name} {layout.version}) is not "
        f"the schema's {current.label.name} {current.label.values} ({current.schema_name} {current.version})"
    )


def plan(
    run_id: str, parts: list[Part], target_bytes: int, layout: Layout, instance_count: int = 1
) -> list[CompactionItem]:
    """Groups of consecutive small parts (oldest first), each at most ``target_bytes``, to compact into ``layout``.

    Small parts are grouped whatever their layout: compacting lays each out in ``layout``. A part of
    half the target or more is left alone, unless it is in another layout: it is then a group of its
    own, as an unsplit part always is. A part that cannot be laid out in ``layout`` is left out. With
    several training instances the target shrinks so that the snapshot keeps at least one part per
    instance to shard.
    """
    parts = [part for part in parts if incompatibility(part, layout) is None]
    total = sum(part.bytes for part in parts)
    if instance_count > 1:
        target_bytes = min(target_bytes, max(total // instance_count, 1))
    groups: list[list[Part]] = []
    current: list[Part] = []
    size = 0
    for part in parts:
        small = part.bytes * 2 < target_bytes
        if not part.channels or not small:
            groups += [current, [part]]
            current, size = [], 0
            continue
        if size + part.bytes > target_bytes or len(current) == MAX_COMPACTED_SOURCES:
            groups.append(current)
            current, size = [], 0
        current.append(part)
        size += part.bytes
    groups.append(current)
    return [
        CompactionItem(run_id=run_id, part_id=compacted_id(group, layout), sources=group, layout=layout)
        for group in groups
        if len(group) > 1 or (group and _needs_rewrite(group[0], layout))
    ]


def _needs_rewrite(part: Part, layout: Layout) -> bool:
    """Whether compacting ``part`` alone changes it: it is unsplit, or in another layout."""
    return not part.channels or not layout_of(part, layout).same_columns(layout)
