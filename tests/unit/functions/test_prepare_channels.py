"""A run's channels: compaction planned from part records, manifests over channel objects, no row copied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from channels import (
    MixedLayoutError,
    NotEnoughDataError,
    PrepareSettings,
    UnsplitPartsError,
    plan_compaction,
    write_manifests,
)
from moto import mock_aws
from part_compaction import CompactSettings, compact

from conveyor import aws
from conveyor.compaction import CompactionItem, compacted_id
from conveyor.dataset import channel_key, channel_of, part_name, split_lines
from conveyor.retraining import RetrainingInput
from conveyor.schema import LabelSpec, Layout, load_schema
from conveyor.state.ledger import ChannelObject, Ledger, Part
from tests.unit.conftest import create_state_table

BUCKET = "data"
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
COMMON = {
    "project_name": "conveyor",
    "stage": "dev",
    "conveyor_version": "0.1.0",
    "data_bucket_name": BUCKET,
    "feature_schema": "predictive_maintenance",
}
OLD = load_schema("predictive_maintenance").layout
NEW = load_schema("predictive_maintenance_v2").layout


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with mock_aws():
        ledger = Ledger(create_state_table())
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield ledger
    aws.client.cache_clear()


def rows(part_id: str, count: int) -> list[str]:
    return [f"{index % 2},{index}.5,{part_id}\n" for index in range(count)]


def old_rows(part_id: str, count: int) -> list[str]:
    """Rows in the columns of predictive_maintenance: label, 5 features, then vibration_mm_s."""
    return [f"{index % 2},300.{index},310.0,1500.0,40.0,{index},{index % 7}.5\n" for index in range(count)]


def write_part(
    ledger: Ledger,
    part_id: str,
    count: int,
    minute: int,
    *,
    split: bool = True,
    layout: Layout | None = None,
) -> Part:
    """A part as ingestion writes it (or, with ``split`` off, as it was written before the split).

    In a ``layout``, its rows are ``old_rows``; with none, the short rows of ``rows``.
    """
    s3 = aws.client("s3")
    lines = old_rows(part_id, count) if layout else rows(part_id, count)
    channels = {}
    if split:
        for channel, channel_rows in split_lines(part_name(part_id), lines, 20, 10).items():
            body = "".join(channel_rows).encode()
            s3.put_object(Bucket=BUCKET, Key=channel_key(part_id, channel), Body=body)
            channels[channel] = ChannelObject(
                key=channel_key(part_id, channel), rows=len(channel_rows), bytes=len(body)
            )
    else:
        s3.put_object(Bucket=BUCKET, Key=part_name(part_id), Body="".join(lines).encode())
    part = Part(
        part_id=part_id,
        key=part_name(part_id),
        rows=count,
        source_key=f"incoming/{part_id}.csv",
        source_version="null",
        created_at=START + timedelta(minutes=minute),
        channels=channels,
        layout=layout,
    )
    assert ledger.record_part(part, f"{BUCKET}/incoming/{part_id}.csv#null")
    return part


def run_input(parts: list[Part], run_id: str = "run-000001") -> RetrainingInput:
    key = f"datasets/snapshots/{run_id}.json"
    snapshot = {"run_id": run_id, "parts": [part.model_dump(mode="json") for part in parts]}
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(snapshot).encode())
    total = sum(part.rows for part in parts)
    return RetrainingInput.model_validate(
        {
            "run_id": run_id,
            "trigger": "threshold",
            "claimed_at": START + timedelta(hours=1),
            "new_rows": total,
            "dataset": {"bucket": BUCKET, "manifest_key": key, "rows": total, "parts": len(parts)},
        }
    )


def read_json(key: str) -> Any:
    return json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def channel_rows(manifest_uri: str) -> list[str]:
    """Every row a training job reads through the manifest, in order."""
    prefix, *keys = read_json(manifest_uri.removeprefix(f"s3://{BUCKET}/"))
    assert prefix == {"prefix": f"s3://{BUCKET}/"}
    s3 = aws.client("s3")
    return [
        row for key in keys for row in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines(True)
    ]


def prepare(ledger: Ledger, run: RetrainingInput, **settings: Any) -> Any:
    """The workflow's three steps: plan, compact each group (the Distributed Map), manifests."""
    prepare_settings = PrepareSettings(**COMMON | settings, state_table_name=ledger.table_name)
    plan = plan_compaction(prepare_settings, run)
    items = read_json(plan.key)
    compact_settings = CompactSettings(**COMMON, state_table_name=ledger.table_name)
    outcomes = [compact(compact_settings, ledger, CompactionItem.model_validate(item)) for item in items]
    return write_manifests(prepare_settings, ledger, run), outcomes


def expected(parts: list[Part], channel: str) -> list[str]:
    """The rows of ``channel`` as the split of each part's rows by location gives them."""
    return [
        row
        for part in parts
        for line, row in enumerate(rows(part.part_id, part.rows))
        if channel_of(part.key, line, 20, 10) == channel
    ]


def test_small_parts_are_compacted_and_every_channel_holds_the_rows_its_hash_gives(ledger: Ledger) -> None:
    parts = [write_part(ledger, f"p{number}", 40 + number, number) for number in range(12)]
    channels, outcomes = prepare(ledger, run_input(parts))
    assert [outcome.outcome for outcome in outcomes] == ["compacted"]
    assert channels.parts == 1
    for channel in ("train", "validation", "test"):
        assert sorted(channel_rows(getattr(channels, channel))) == sorted(expected(parts, channel))
        assert channels.rows[channel] == len(expected(parts, channel))
    assert [part.part_id for part in ledger.parts()] == [outcomes[0].part_id]
    assert read_json("datasets/channels/run-000001/parts.json")[0]["sources"] == [f"p{n}" for n in range(12)]


def test_a_part_written_before_the_split_is_split_with_the_same_hash(ledger: Ledger) -> None:
    old = write_part(ledger, "old", 200, 0, split=False)
    new = write_part(ledger, "new", 50, 1)
    channels, outcomes = prepare(ledger, run_input([old, new]), compaction_target_mb=1)
    assert [outcome.outcome for outcome in outcomes] == ["compacted"]
    for channel in ("train", "validation", "test"):
        assert sorted(channel_rows(getattr(channels, channel))) == sorted(expected([old, new], channel))


def test_a_run_lists_the_parts_of_its_snapshot_even_after_another_run_compacted_them(ledger: Ledger) -> None:
    parts = [write_part(ledger, f"p{number}", 40, number) for number in range(4)]
    first = run_input(parts[:2], "run-000001")
    second = run_input(parts, "run-000002")
    prepare(ledger, second)
    channels, outcomes = prepare(ledger, first)
    assert [outcome.outcome for outcome in outcomes] == ["sources-gone"]
    assert sorted(channel_rows(channels.train)) == sorted(expected(parts[:2], "train"))


def test_a_replayed_compaction_swaps_nothing_twice(ledger: Ledger) -> None:
    parts = [write_part(ledger, f"p{number}", 40, number) for number in range(3)]
    run = run_input(parts)
    prepare(ledger, run)
    channels, outcomes = prepare(ledger, run)
    assert [outcome.outcome for outcome in outcomes] == ["already-compacted"]
    assert sorted(channel_rows(channels.validation)) == sorted(expected(parts, "validation"))
    assert len(ledger.parts()) == 1


def test_replaced_objects_are_tagged_for_the_lifecycle_rule_and_kept_for_runs_in_flight(ledger: Ledger) -> None:
    parts = [write_part(ledger, f"p{number}", 40, number) for number in range(2)]
    prepare(ledger, run_input(parts))
    tags = aws.client("s3").get_object_tagging(Bucket=BUCKET, Key=channel_key("p0", "train"))["TagSet"]
    assert tags == [{"Key": "conveyor:part", "Value": "replaced"}]


def test_several_instances_shard_the_train_channel_when_there_is_an_object_for_each(ledger: Ledger) -> None:
    parts = [write_part(ledger, f"p{number}", 60, number) for number in range(6)]
    channels, _ = prepare(ledger, run_input(parts), training_instance_count=2)
    assert channels.train_distribution == "ShardedByS3Key"
    assert channels.parts >= 2
    lone = [write_part(ledger, "lone", 60, 9)]
    channels, _ = prepare(ledger, run_input(lone, "run-000003"), training_instance_count=2)
    assert channels.train_distribution == "FullyReplicated"


def test_a_snapshot_too_small_for_a_validation_channel_is_refused_with_its_reason(ledger: Ledger) -> None:
    tiny = write_part(ledger, "tiny", 1, 0)
    with pytest.raises(NotEnoughDataError, match="channel would be empty"):
        prepare(ledger, run_input([tiny]))


def test_an_old_part_whose_compaction_failed_stops_the_run_with_its_reason(ledger: Ledger) -> None:
    old = write_part(ledger, "old", 200, 0, split=False)
    run = run_input([old])
    settings = PrepareSettings(**COMMON, state_table_name=ledger.table_name)
    plan_compaction(settings, run)
    # The map's item for it failed (its object unreadable, say): nothing was swapped
    with pytest.raises(UnsplitPartsError, match="parts old were written before the split"):
        write_manifests(settings, ledger, run)


def relaid(line: str) -> str:
    """An ``old_rows`` row in the columns of predictive_maintenance_v2: vibration dropped, humidity empty."""
    return ",".join(line.rstrip("\n").split(",")[:6]) + ",\n"


def test_a_schema_change_lays_every_part_of_the_run_out_again_in_the_new_columns(ledger: Ledger) -> None:
    big = write_part(ledger, "big", 400, 0, layout=OLD)
    small = [write_part(ledger, f"p{number}", 40, number + 1, layout=OLD) for number in range(3)]
    channels, outcomes = prepare(ledger, run_input([big, *small]), feature_schema=NEW.schema_name)
    assert [outcome.outcome for outcome in outcomes] == ["compacted"]
    assert channels.layout == NEW
    for channel in ("train", "validation", "test"):
        before = [
            row
            for part in (big, *small)
            for line, row in enumerate(old_rows(part.part_id, part.rows))
            if channel_of(part.key, line, 20, 10) == channel
        ]
        # Each row keeps its channel, and holds the new schema's columns: 1 label + 6 features
        assert sorted(channel_rows(getattr(channels, channel))) == sorted(map(relaid, before))
    assert all(part.layout == NEW for part in ledger.parts())
    assert sum(part.rows for part in ledger.parts()) == 520


def test_a_part_already_in_the_schemas_columns_is_not_rewritten(ledger: Ledger) -> None:
    same = OLD.model_copy(update={"version": "bounds-only"})
    part = write_part(ledger, "big", 400, 0, layout=same)
    channels, outcomes = prepare(ledger, run_input([part]))
    assert outcomes == []
    assert sorted(channel_rows(channels.train)) == sorted(
        row for line, row in enumerate(old_rows("big", 400)) if channel_of(part.key, line, 20, 10) == "train"
    )


def test_a_part_with_another_label_is_excluded_and_the_run_says_why(ledger: Ledger) -> None:
    relabelled = OLD.model_copy(update={"version": "relabel", "label": LabelSpec(name="failed", values=[0, 1, 2])})
    kept = write_part(ledger, "kept", 400, 0, layout=OLD)
    gone = write_part(ledger, "gone", 300, 1, layout=relabelled)
    channels, _ = prepare(ledger, run_input([kept, gone]))
    assert (channels.excluded_parts, channels.excluded_rows) == (1, 300)
    assert channels.rows["train"] + channels.rows["validation"] + channels.rows["test"] == 400
    (excluded,) = read_json("datasets/channels/run-000001/excluded.json")
    assert excluded["part_id"] == "gone"
    assert excluded["rows"] == 300
    assert "label failed [0, 1, 2]" in excluded["reason"]
    assert [part.part_id for part in ledger.parts()] == ["kept", "gone"]  # excluded, never deleted


def test_a_part_whose_migration_failed_stops_the_run_rather_than_mix_layouts(ledger: Ledger) -> None:
    part = write_part(ledger, "big", 400, 0, layout=OLD)
    run = run_input([part])
    settings = PrepareSettings(**COMMON | {"feature_schema": NEW.schema_name}, state_table_name=ledger.table_name)
    plan_compaction(settings, run)
    # The map's item for it failed: the part is still in the old columns
    with pytest.raises(
        MixedLayoutError, match="parts big are not yet in the columns of schema predictive_maintenance_v2"
    ):
        write_manifests(settings, ledger, run)


def test_two_runs_migrating_the_same_part_swap_it_once_and_both_use_the_new_layout(ledger: Ledger) -> None:
    part = write_part(ledger, "big", 400, 0, layout=OLD)
    first, _ = prepare(ledger, run_input([part], "run-000001"), feature_schema=NEW.schema_name)
    second, outcomes = prepare(ledger, run_input([part], "run-000002"), feature_schema=NEW.schema_name)
    assert [outcome.outcome for outcome in outcomes] == ["already-compacted"]
    assert sorted(channel_rows(first.train)) == sorted(channel_rows(second.train))
    assert [stored.layout for stored in ledger.parts()] == [NEW]


def test_metadata_sidecars_follow_their_rows_through_compaction_laid_out_by_name(ledger: Ledger) -> None:
    s3 = aws.client("s3")
    tagged = OLD.model_copy(update={"version": "tagged", "metadata": ["device_id", "event_time"]})
    target = OLD.model_copy(update={"version": "target", "metadata": ["event_time", "site"]})
    with_metadata = write_part(ledger, "tagged", 60, 0, layout=tagged)
    channels = {}
    for channel, stored in with_metadata.channels.items():
        # Line i of a sidecar describes row i of its channel object: the row's own number, quoted where CSV needs it
        numbers = [
            row.split(",")[5]
            for row in s3.get_object(Bucket=BUCKET, Key=stored.key)["Body"].read().decode().splitlines()
        ]
        sidecar = "".join(f'"dev,{number}",2026-11-26T10:{int(number) % 60:02d}:00Z\n' for number in numbers)
        key = f"datasets/parts/tagged/{channel}.metadata.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=sidecar.encode())
        channels[channel] = stored.model_copy(update={"metadata_key": key})
    with_metadata = with_metadata.model_copy(
        update={"channels": channels, "newest_event_at": datetime(2026, 11, 26, 10, 59, tzinfo=UTC)}
    )
    plain = write_part(ledger, "plain", 40, 1, layout=OLD)
    item = CompactionItem(
        run_id="run-000001",
        part_id=compacted_id([with_metadata, plain], target),
        sources=[with_metadata, plain],
        layout=target,
    )
    settings = CompactSettings(**COMMON, state_table_name=ledger.table_name)
    assert compact(settings, ledger, item).outcome == "compacted"
    (part,) = ledger.parts()
    sidecar_tags = s3.get_object_tagging(Bucket=BUCKET, Key=channels["train"].metadata_key)["TagSet"]
    assert sidecar_tags == [{"Key": "conveyor:part", "Value": "replaced"}]  # the lifecycle deletes them too
    assert part.newest_event_at == datetime(2026, 11, 26, 10, 59, tzinfo=UTC)
    assert part.layout == target
    for channel, stored in part.channels.items():
        rows = s3.get_object(Bucket=BUCKET, Key=stored.key)["Body"].read().decode().splitlines()
        assert stored.metadata_key is not None
        sidecar = s3.get_object(Bucket=BUCKET, Key=stored.metadata_key)["Body"].read().decode().splitlines()
        assert len(sidecar) == len(rows) == stored.rows
        tagged_rows = channels[channel].rows if channel in channels else 0
        for row, line in zip(rows[:tagged_rows], sidecar[:tagged_rows], strict=True):
            assert line == f"2026-11-26T10:{int(row.split(',')[5]) % 60:02d}:00Z,"  # device_id dropped, site empty
        assert set(sidecar[tagged_rows:]) <= {","}  # the plain part's rows: no metadata
