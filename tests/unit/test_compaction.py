"""Compaction plans: consecutive small parts in groups up to the target; big parts alone; old unsplit parts, and
parts in another layout, alone to be rewritten; parts with another label left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.compaction import CompactionItem, compacted_id, incompatibility, plan
from conveyor.dataset import channel_key, part_name
from conveyor.schema import LabelSpec, Layout, load_schema
from conveyor.state.ledger import MAX_COMPACTED_SOURCES, ChannelObject, Part
from tests.helpers import load_event

START = datetime(2026, 11, 26, tzinfo=UTC)
LAYOUT = load_schema("predictive_maintenance").layout
GAINED = LAYOUT.model_copy(update={"version": "v2", "features": [*LAYOUT.features[:-1], "humidity_pct"]})


def part(number: int, size: int, *, split: bool = True, layout: Layout | None = LAYOUT) -> Part:
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
        layout=layout,
    )


def test_small_parts_are_grouped_in_order_up_to_the_target() -> None:
    parts = [part(number, 300) for number in range(10)]
    groups = plan("run-000001", parts, 1000, LAYOUT)
    assert [[source.part_id for source in group.sources] for group in groups] == [
        ["p000", "p001", "p002"],
        ["p003", "p004", "p005"],
        ["p006", "p007", "p008"],
    ]
    assert all(sum(source.bytes for source in group.sources) <= 1000 for group in groups)


def test_a_part_of_half_the_target_or_more_is_left_alone_and_breaks_the_run_of_small_ones() -> None:
    parts = [part(0, 100), part(1, 100), part(2, 500), part(3, 100), part(4, 100)]
    groups = plan("run-000001", parts, 1000, LAYOUT)
    assert [[source.part_id for source in group.sources] for group in groups] == [["p000", "p001"], ["p003", "p004"]]


def test_a_lone_small_part_is_not_compacted() -> None:
    assert plan("run-000001", [part(0, 100), part(1, 900)], 1000, LAYOUT) == []


def test_an_unsplit_part_is_a_group_of_its_own_whatever_its_size() -> None:
    parts = [part(0, 100), part(1, 100, split=False), part(2, 100), part(3, 100)]
    groups = plan("run-000001", parts, 1000, LAYOUT)
    assert [[source.part_id for source in group.sources] for group in groups] == [["p001"], ["p002", "p003"]]


def test_a_group_never_holds_more_parts_than_one_transaction_can_swap() -> None:
    parts = [part(number, 1) for number in range(250)]
    groups = plan("run-000001", parts, 10_000, LAYOUT)
    assert [len(group.sources) for group in groups] == [MAX_COMPACTED_SOURCES, MAX_COMPACTED_SOURCES, 52]


def test_several_training_instances_keep_at_least_one_part_each() -> None:
    parts = [part(number, 100) for number in range(8)]
    assert len(plan("run-000001", parts, 10_000, LAYOUT)) == 1
    groups = plan("run-000001", parts, 10_000, LAYOUT, instance_count=2)
    assert [len(group.sources) for group in groups] == [4, 4]


def test_the_compacted_part_is_named_by_the_parts_it_replaces_in_any_order() -> None:
    first, second, third = part(0, 10), part(1, 10), part(2, 10)
    assert compacted_id([first, second], LAYOUT) == compacted_id([second, first], LAYOUT)
    assert compacted_id([first, second], LAYOUT) != compacted_id([first, third], LAYOUT)
    assert compacted_id([first, second], LAYOUT) != compacted_id([first, second], GAINED)
    (group,) = plan("run-000001", [first, second], 1000, LAYOUT)
    assert group.part_id == compacted_id([first, second], LAYOUT)


def test_a_big_part_in_another_layout_is_a_group_of_its_own_and_a_small_one_joins_its_neighbours() -> None:
    parts = [part(0, 100), part(1, 900), part(2, 900, layout=GAINED), part(3, 100, layout=GAINED), part(4, 100)]
    groups = plan("run-000001", parts, 1000, LAYOUT)
    # A big part alone; a small one with its neighbours, whatever their layouts
    assert [[source.part_id for source in group.sources] for group in groups] == [["p002"], ["p003", "p004"]]
    assert plan("run-000001", [part(0, 100, layout=GAINED)], 1000, LAYOUT)[0].sources[0].part_id == "p000"
    assert all(group.layout == LAYOUT for group in groups)


def test_a_part_recorded_without_a_layout_is_taken_to_be_in_the_schema_in_force() -> None:
    assert plan("run-000001", [part(0, 900, layout=None)], 1000, LAYOUT) == []
    assert plan("run-000001", [part(0, 900, layout=None)], 1000, GAINED) == []
    (group,) = plan("run-000001", [part(0, 900, layout=LAYOUT)], 1000, GAINED)
    assert group.layout == GAINED


def test_a_part_with_another_label_is_left_out_and_says_why() -> None:
    relabelled = LAYOUT.model_copy(update={"version": "v3", "label": LabelSpec(name="failed", values=[0, 1, 2])})
    parts = [part(0, 100, layout=relabelled), part(1, 100), part(2, 100, layout=relabelled), part(3, 100)]
    groups = plan("run-000001", parts, 1000, LAYOUT)
    assert [[source.part_id for source in group.sources] for group in groups] == [["p001", "p003"]]
    reason = incompatibility(parts[0], LAYOUT)
    assert reason is not None
    assert "failed [0, 1, 2]" in reason
    assert "failure_within_horizon [0, 1]" in reason
    assert incompatibility(parts[1], LAYOUT) is None


def test_the_sample_event_is_an_item_the_plan_could_have_written() -> None:
    item = CompactionItem.model_validate(load_event("retraining/compact_parts.json"))
    assert item.part_id == compacted_id(item.sources, item.layout)
    assert plan(item.run_id, item.sources, 64 << 20, item.layout) == [item]
