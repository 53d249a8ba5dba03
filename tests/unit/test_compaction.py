"""Compaction plans: consecutive small parts in groups up to the target; big parts, and old unsplit ones, alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.compaction import compacted_id, plan
from conveyor.dataset import channel_key, part_name
from conveyor.state.ledger import MAX_COMPACTED_SOURCES, ChannelObject, Part

START = datetime(2026, 11, 26, tzinfo=UTC)


def part(number: int, size: int, *, split: bool = True) -> Part:
    name = f"p{number:03d}"
    channels = {"train": ChannelObject(key=channel_key(name, "train"), rows=size // 50, bytes=size)} if split else {}
    return Part(
        part_id=name,
        key=part_name(name),
        rows=max(size // 50, 1),
        source_key=f"incoming/{name}.csv",
        source_version="null",
        created_at=START + timedelta(minutes=number),
        channels=channels,
    )


def test_small_parts_are_grouped_in_order_up_to_the_target() -> None:
    parts = [part(number, 300) for number in range(10)]
    groups = plan("run-000001", parts, target_bytes=1000)
    assert [[source.part_id for source in group.sources] for group in groups] == [
        ["p000", "p001", "p002"],
        ["p003", "p004", "p005"],
        ["p006", "p007", "p008"],
    ]
    assert all(sum(source.bytes for source in group.sources) <= 1000 for group in groups)


def test_a_part_of_half_the_target_or_more_is_left_alone_and_breaks_the_run_of_small_ones() -> None:
    parts = [part(0, 100), part(1, 100), part(2, 500), part(3, 100), part(4, 100)]
    groups = plan("run-000001", parts, target_bytes=1000)
    assert [[source.part_id for source in group.sources] for group in groups] == [["p000", "p001"], ["p003", "p004"]]


def test_a_lone_small_part_is_not_compacted() -> None:
    assert plan("run-000001", [part(0, 100), part(1, 900)], target_bytes=1000) == []


def test_an_unsplit_part_is_a_group_of_its_own_whatever_its_size() -> None:
    parts = [part(0, 100), part(1, 100, split=False), part(2, 100), part(3, 100)]
    groups = plan("run-000001", parts, target_bytes=1000)
    assert [[source.part_id for source in group.sources] for group in groups] == [["p001"], ["p002", "p003"]]


def test_a_group_never_holds_more_parts_than_one_transaction_can_swap() -> None:
    parts = [part(number, 1) for number in range(250)]
    groups = plan("run-000001", parts, target_bytes=10_000)
    assert [len(group.sources) for group in groups] == [MAX_COMPACTED_SOURCES, MAX_COMPACTED_SOURCES, 52]


def test_several_training_instances_keep_at_least_one_part_each() -> None:
    parts = [part(number, 100) for number in range(8)]
    assert len(plan("run-000001", parts, target_bytes=10_000)) == 1
    groups = plan("run-000001", parts, target_bytes=10_000, instance_count=2)
    assert [len(group.sources) for group in groups] == [4, 4]


def test_the_compacted_part_is_named_by_the_parts_it_replaces_in_any_order() -> None:
    first, second, third = part(0, 10), part(1, 10), part(2, 10)
    assert compacted_id([first, second]) == compacted_id([second, first])
    assert compacted_id([first, second]) != compacted_id([first, third])
    (group,) = plan("run-000001", [first, second], target_bytes=1000)
    assert group.part_id == compacted_id([first, second])
