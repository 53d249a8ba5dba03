"""A run's training channels: plan the compaction of its snapshot, then write one manifest per channel.

Rows were split into channels when their parts were written (:mod:`conveyor.dataset`), so no row
is read here, and the work grows with the number of parts, never with the number of rows:

- ``plan``: group the snapshot's small parts (:func:`conveyor.compaction.plan`) and write the
  groups to ``datasets/channels/<run id>/compaction.json``, the items of the workflow's
  Distributed Map that compacts them;
- ``manifests``: each group the map compacted is one part now (the ledger holds it); every other
  part is used as the snapshot listed it. Write a SageMaker manifest (``S3DataType: ManifestFile``)
  per channel to ``datasets/channels/<run id>/<channel>.manifest``, and the parts the run used to
  ``parts.json`` beside them.

Every part a run uses is in the layout of the schema in force: the map lays the others out again
(:mod:`conveyor.compaction`). A part whose label is not the schema's is excluded, and
``excluded.json`` says why; a part the map failed to lay out stops the run, which never trains on
mixed layouts.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from conveyor import aws
from conveyor.compaction import CompactionItem, incompatibility, layout_of, plan
from conveyor.dataset import CHANNELS, Channel
from conveyor.errors import ConveyorError
from conveyor.retraining import RetrainingInput
from conveyor.schema import Layout, load_schema
from conveyor.settings import Settings
from conveyor.state.ledger import Ledger, Part

CHANNELS_PREFIX = "datasets/channels/"
MEBIBYTE = 1024 * 1024


class NotEnoughDataError(ConveyorError):
    """The snapshot leaves a training or validation channel empty."""


class UnsplitPartsError(ConveyorError):
    """A part of the snapshot still has no channel objects: its compaction failed."""


class MixedLayoutError(ConveyorError):
    """A part of the snapshot is still in another layout than the schema's: its migration failed."""


class PrepareSettings(Settings):
    data_bucket_name: str
    feature_schema: str
    compaction_target_mb: int = 64
    training_instance_count: int = 1


class PrepareRequest(RetrainingInput):
    step: Literal["plan", "manifests"]


class CompactionPlan(BaseModel):
    key: str
    groups: int


class Channels(BaseModel):
    train: str
    validation: str
    test: str
    rows: dict[Channel, int]
    parts: int
    train_distribution: Literal["FullyReplicated", "ShardedByS3Key"]
    layout: Layout
    excluded_parts: int
    excluded_rows: int


def _snapshot(run: RetrainingInput) -> list[Part]:
    body = aws.client("s3").get_object(Bucket=run.dataset.bucket, Key=run.dataset.manifest_key)["Body"].read()
    return [Part.model_validate(part) for part in json.loads(body)["parts"]]


def _put_json(bucket: str, key: str, document: Any) -> None:
    aws.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json"
    )


def plan_compaction(settings: PrepareSettings, run: RetrainingInput) -> CompactionPlan:
    """Write the groups of the snapshot's small parts to compact, for the Distributed Map."""
    items = plan(
        run.run_id,
        _snapshot(run),
        settings.compaction_target_mb * MEBIBYTE,
        load_schema(settings.feature_schema).layout,
        settings.training_instance_count,
    )
    key = f"{CHANNELS_PREFIX}{run.run_id}/compaction.json"
    _put_json(run.dataset.bucket, key, [item.model_dump(mode="json") for item in items])
    return CompactionPlan(key=key, groups=len(items))


def _run_parts(ledger: Ledger, run: RetrainingInput, items: list[CompactionItem]) -> list[Part]:
    """The snapshot's parts, each group the map compacted replaced by its compacted part (listed once).

    Raises if one is still unsplit, or in another layout than the items': the map failed on it.
    """
    compacted = ledger.find_parts([item.part_id for item in items])
    replacement = {
        source.part_id: compacted[item.part_id]
        for item in items
        if item.part_id in compacted
        for source in item.sources
    }
    parts: dict[str, Part] = {}
    for part in _snapshot(run):
        used = replacement.get(part.part_id, part)
        parts.setdefault(used.part_id, used)
    unsplit = [part.part_id for part in parts.values() if not part.channels]
    if unsplit:
        raise UnsplitPartsError(
            f"run {run.run_id}: parts {', '.join(unsplit[:5])} were written before the split at ingestion and "
            "their compaction failed (see the Compact small parts map run); the next run retries them"
        )
    return list(parts.values())


def _check_layouts(run: RetrainingInput, parts: list[Part], layout: Layout) -> None:
    """Refuse a run over parts in another layout than ``layout``: training would read misaligned columns."""
    stale = [part.part_id for part in parts if not layout_of(part, layout).same_columns(layout)]
    if stale:
        raise MixedLayoutError(
            f"run {run.run_id}: parts {', '.join(stale[:5])} are not yet in the columns of schema "
            f"{layout.schema_name} {layout.version}: their migration failed (see the Compact small parts "
            "map run); the next run retries them"
        )


def write_manifests(settings: PrepareSettings, ledger: Ledger, run: RetrainingInput) -> Channels:
    """Write the run's channel manifests over its parts, compacted where the map compacted them."""
    bucket = run.dataset.bucket
    prefix = f"{CHANNELS_PREFIX}{run.run_id}/"
    plan_body = aws.client("s3").get_object(Bucket=bucket, Key=f"{prefix}compaction.json")["Body"].read()
    layout = load_schema(settings.feature_schema).layout
    listed = _run_parts(ledger, run, [CompactionItem.model_validate(item) for item in json.loads(plan_body)])
    excluded = [(part, reason) for part in listed if (reason := incompatibility(part, layout)) is not None]
    parts = [part for part in listed if incompatibility(part, layout) is None]
    _check_layouts(run, parts, layout)
    _put_json(
        bucket,
        f"{prefix}excluded.json",
        [{"part_id": part.part_id, "rows": part.rows, "reason": reason} for part, reason in excluded],
    )
    rows = {
        channel: sum(part.channels[channel].rows for part in parts if channel in part.channels) for channel in CHANNELS
    }
    empty = [name for name in ("train", "validation") if not rows[name]]
    if empty:
        raise NotEnoughDataError(
            f"run {run.run_id}: the {' and '.join(empty)} channel would be empty "
            f"({run.dataset.rows} rows in the snapshot); upload more data"
        )
    uris = {}
    for channel in CHANNELS:
        keys = [part.channels[channel].key for part in parts if channel in part.channels]
        _put_json(bucket, f"{prefix}{channel}.manifest", [{"prefix": f"s3://{bucket}/"}, *keys])
        uris[channel] = f"s3://{bucket}/{prefix}{channel}.manifest"
    _put_json(bucket, f"{prefix}parts.json", [part.model_dump(mode="json") for part in parts])
    train_objects = sum("train" in part.channels for part in parts)
    sharded = 1 < settings.training_instance_count <= train_objects
    return Channels(
        train=uris["train"],
        validation=uris["validation"],
        test=uris["test"],
        rows=rows,
        parts=len(parts),
        train_distribution="ShardedByS3Key" if sharded else "FullyReplicated",
        layout=layout,
        excluded_parts=len(excluded),
        excluded_rows=sum(part.rows for part, _ in excluded),
    )
