"""The dataset ledger: counts survive concurrency, and runs are claimed once.

What it does when DynamoDB refuses a request is in test_ledger_errors.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.state.items import plain_key, to_item
from conveyor.state.ledger import ChannelObject, Ledger, Part
from localcloud.adapters.atomic_requests import serialized_requests
from localcloud.adapters.dynamodb_transactions import dynamodb_transactions
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger on a table built from template.yaml's StateTable, so the two cannot drift."""
    with mock_aws(), serialized_requests():
        yield Ledger(create_state_table())
    aws.client.cache_clear()


def part(number: int, rows: int) -> Part:
    return Part(
        part_id=f"p{number}",
        key=f"datasets/parts/p{number}.csv",
        rows=rows,
        source_key=f"incoming/f{number}.csv",
        source_version="v1",
        created_at=NOW + timedelta(seconds=number),
    )


def in_dataset(ledger: Ledger, parts: list[Part]) -> None:
    """Put ``parts`` in the dataset as record_part does, 25 a request (a hundred transactions in moto take seconds)."""
    requests = [
        {"PutRequest": {"Item": to_item(plain_key("dataset", f"part#{p.part_id}") | p.model_dump(mode="json"))}}
        for p in parts
    ]
    for start in range(0, len(requests), 25):
        aws.client("dynamodb").batch_write_item(RequestItems={ledger.table_name: requests[start : start + 25]})


def test_an_input_object_is_known_by_its_bucket_key_and_version() -> None:
    assert Ledger.object_id("uploads", "incoming/f1.csv", "v1") == "uploads/incoming/f1.csv#v1"


def test_a_parts_size_is_that_of_its_channel_objects() -> None:
    channels = {
        "train": ChannelObject(key="datasets/parts/p1/train.csv", rows=8, bytes=800),
        "validation": ChannelObject(key="datasets/parts/p1/validation.csv", rows=1, bytes=100),
        "test": ChannelObject(key="datasets/parts/p1/test.csv", rows=1, bytes=90),
    }
    assert part(1, 10).model_copy(update={"channels": channels}).bytes == 990
    assert part(2, 10).bytes == 0


def test_an_empty_dataset_counts_nothing(ledger: Ledger) -> None:
    counter = ledger.counter()
    assert (counter.pending_rows, counter.total_rows, counter.parts, counter.runs) == (0, 0, 0, 0)


def test_a_part_is_recorded_once_however_often_its_event_arrives(ledger: Ledger) -> None:
    assert ledger.record_part(part(1, 7), "bucket/incoming/f1.csv#v1") is True
    assert ledger.record_part(part(1, 7), "bucket/incoming/f1.csv#v1") is False
    counter = ledger.counter()
    assert (counter.pending_rows, counter.total_rows, counter.parts) == (7, 7, 1)
    assert ledger.seen("bucket/incoming/f1.csv#v1")


def test_an_object_set_aside_is_handled_once(ledger: Ledger) -> None:
    # Given an object set aside in quarantine
    assert ledger.record_quarantine("bucket/incoming/bad.csv#v1", "quarantine/bad.csv") is True
    # Then it is handled: set aside again, or recorded as a part, it is known from before
    assert ledger.seen("bucket/incoming/bad.csv#v1")
    assert ledger.record_quarantine("bucket/incoming/bad.csv#v1", "quarantine/bad.csv") is False
    assert ledger.record_part(part(1, 7), "bucket/incoming/bad.csv#v1") is False
    assert ledger.counter().total_rows == 0


def test_concurrent_parts_never_lose_a_count(ledger: Ledger) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: ledger.record_part(part(n, n), f"object-{n}"), range(1, 41)))
    assert ledger.counter().total_rows == sum(range(1, 41))
    assert len(ledger.parts()) == 40


def test_a_run_is_claimed_only_once_the_threshold_is_reached(ledger: Ledger) -> None:
    ledger.record_part(part(1, 6), "o1")
    assert ledger.claim_run(10, "threshold", NOW) is None
    ledger.record_part(part(2, 5), "o2")
    run = ledger.claim_run(10, "threshold", NOW)
    assert run is not None
    assert (run.run_id, run.rows, run.status) == ("run-000001", 11, "CLAIMED")
    assert ledger.claim_run(10, "threshold", NOW) is None
    assert ledger.counter().pending_rows == 0


@pytest.mark.parametrize(
    ("min_rows", "pending_rows", "claimed"),
    [
        pytest.param(10, 10, True, id="exactly the minimum"),
        pytest.param(10, 9, False, id="one row short"),
        pytest.param(0, 1, True, id="no minimum, one row"),
        pytest.param(0, 0, False, id="no minimum, no rows"),
    ],
)
def test_a_run_claims_at_least_the_minimum_of_new_rows_and_at_least_one(
    ledger: Ledger, min_rows: int, pending_rows: int, claimed: bool
) -> None:
    if pending_rows:
        ledger.record_part(part(1, pending_rows), "o1")
    run = ledger.claim_run(min_rows, "schedule", NOW)
    assert (run is not None) is claimed
    assert ledger.counter().pending_rows == (0 if claimed else pending_rows)


def test_concurrent_claims_start_one_run(ledger: Ledger) -> None:
    ledger.record_part(part(1, 50), "o1")
    with ThreadPoolExecutor(max_workers=6) as pool:
        claims = list(pool.map(lambda _: ledger.claim_run(10, "threshold", NOW), range(6)))
    assert [c.run_id for c in claims if c is not None] == ["run-000001"]
    assert [r.run_id for r in ledger.unstarted_runs()] == ["run-000001"]


def test_rows_that_arrive_during_a_claim_stay_pending(ledger: Ledger) -> None:
    ledger.record_part(part(1, 12), "o1")
    run = ledger.claim_run(10, "threshold", NOW)
    ledger.record_part(part(2, 3), "o2")
    assert run is not None
    assert run.rows == 12
    assert ledger.counter().pending_rows == 3


def test_a_started_run_is_no_longer_pending_a_start(ledger: Ledger) -> None:
    ledger.record_part(part(1, 12), "o1")
    run = ledger.claim_run(10, "threshold", NOW)
    assert run is not None
    ledger.mark_started(run, "arn:aws:states:us-east-1:123456789012:execution:retraining:run-000001")
    assert ledger.unstarted_runs() == []


def test_a_snapshot_holds_the_parts_created_until_the_claim(ledger: Ledger) -> None:
    for number in (1, 2, 3):
        ledger.record_part(part(number, 1), f"o{number}")
    assert [p.part_id for p in ledger.parts(created_until=NOW + timedelta(seconds=2))] == ["p1", "p2"]


def test_compaction_swaps_its_parts_for_one_in_a_single_write_and_only_once(ledger: Ledger) -> None:
    for number in (1, 2, 3):
        ledger.record_part(part(number, number), f"o{number}")
    sources = ledger.parts()[:2]
    compacted = part(9, 3).model_copy(update={"part_id": "c12", "sources": ["p1", "p2"]})
    assert ledger.compact(compacted, sources) is True
    assert [p.part_id for p in ledger.parts()] == ["p3", "c12"]
    assert ledger.compact(compacted, sources) is False
    assert [p.part_id for p in ledger.parts()] == ["p3", "c12"]
    assert ledger.counter().total_rows == 6


def test_a_compaction_whose_part_was_swapped_already_changes_nothing(ledger: Ledger) -> None:
    for number in (1, 2, 3):
        ledger.record_part(part(number, 1), f"o{number}")
    first, second, third = ledger.parts()
    assert ledger.compact(part(8, 2).model_copy(update={"part_id": "c12"}), [first, second]) is True
    assert ledger.compact(part(9, 2).model_copy(update={"part_id": "c23"}), [second, third]) is False
    assert sorted(p.part_id for p in ledger.parts()) == ["c12", "p3"]


@pytest.mark.parametrize("replaced", [1, 99])
def test_a_compaction_replaces_one_to_99_parts(ledger: Ledger, replaced: int) -> None:
    # Given the parts to replace in the dataset (a transaction holds the compacted part and 99 more)
    sources = [part(number, 1) for number in range(1, replaced + 1)]
    in_dataset(ledger, sources)
    # When they are compacted (moto's transactions made lean, as the local cloud makes them)
    with dynamodb_transactions(None):  # type: ignore[arg-type]
        swapped = ledger.compact(part(900, replaced).model_copy(update={"part_id": "c"}), sources)
    # Then one part holds their rows
    assert swapped is True
    assert [(p.part_id, p.rows) for p in ledger.parts()] == [("c", replaced)]


@pytest.mark.parametrize("replaced", [0, 100])
def test_a_compaction_of_no_parts_or_more_than_99_is_refused(ledger: Ledger, replaced: int) -> None:
    sources = [part(number, 1) for number in range(1, replaced + 1)]
    in_dataset(ledger, sources)
    with pytest.raises(ValueError, match=f"a compaction replaces 1 to 99 parts, not {replaced}"):
        ledger.compact(part(900, replaced).model_copy(update={"part_id": "c"}), sources)
    assert len(ledger.parts()) == replaced


def test_find_parts_returns_those_in_the_dataset_now(ledger: Ledger) -> None:
    for number in range(1, 131):
        ledger.record_part(part(number, 1), f"o{number}")
    wanted = [f"p{number}" for number in range(1, 131)] + ["gone"]
    found = ledger.find_parts(wanted)
    assert sorted(found) == sorted(wanted[:-1])
    assert found["p7"] == part(7, 1)


def test_each_accepted_object_keeps_its_rows_after_its_part_is_compacted(ledger: Ledger) -> None:
    for number in (1, 2):
        ledger.record_part(part(number, number * 10), f"bucket/incoming/f{number}.csv#v1")
    ledger.record_quarantine("bucket/incoming/bad.csv#v1", "quarantine/bad.csv")
    ledger.compact(part(9, 30).model_copy(update={"part_id": "c12"}), ledger.parts())
    assert ledger.accepted_objects() == {"bucket/incoming/f1.csv#v1": 10, "bucket/incoming/f2.csv#v1": 20}
