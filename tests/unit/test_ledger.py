"""The dataset ledger: counts survive concurrency, and runs are claimed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conveyor import aws
from conveyor.state.ledger import CONFLICT_ATTEMPTS, Ledger, Part
from localcloud.adapters.atomic_requests import serialized_requests
from tests.unit.conftest import create_state_table

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger on a table built from template.yaml's StateTable, so the two cannot drift."""
    with mock_aws(), serialized_requests():
        yield Ledger(create_state_table())
    aws.client.cache_clear()


Cancel = Callable[..., list[int]]


@pytest.fixture
def cancel(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Cancel:
    """Make DynamoDB cancel the next ``times`` transactions with ``reasons``; returns the count left.

    DynamoDB cancels a transaction before applying any of it, so the cancelled calls never reach
    the table.
    """

    def arrange(times: int, reasons: tuple[str, ...] = ("None", "TransactionConflict")) -> list[int]:
        client = aws.client("dynamodb")
        apply = client.transact_write_items
        left = [times]

        def transact_write_items(**request: Any) -> Any:
            if left[0]:
                left[0] -= 1
                error = {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": code} for code in reasons],
                }
                raise ClientError(error, "TransactWriteItems")
            return apply(**request)

        monkeypatch.setattr(client, "transact_write_items", transact_write_items)
        return left

    return arrange


def part(number: int, rows: int) -> Part:
    return Part(
        part_id=f"p{number}",
        key=f"datasets/parts/p{number}.csv",
        rows=rows,
        source_key=f"incoming/f{number}.csv",
        source_version="v1",
        created_at=NOW + timedelta(seconds=number),
    )


def test_a_part_is_recorded_once_however_often_its_event_arrives(ledger: Ledger) -> None:
    assert ledger.record_part(part(1, 7), "bucket/incoming/f1.csv#v1") is True
    assert ledger.record_part(part(1, 7), "bucket/incoming/f1.csv#v1") is False
    counter = ledger.counter()
    assert (counter.pending_rows, counter.total_rows, counter.parts) == (7, 7, 1)
    assert ledger.seen("bucket/incoming/f1.csv#v1")


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


def test_a_part_cancelled_for_a_conflict_is_recorded_on_a_retry_and_counted_once(
    ledger: Ledger, cancel: Cancel
) -> None:
    cancel(3)
    assert ledger.record_part(part(1, 7), "bucket/incoming/f1.csv#v1") is True
    counter = ledger.counter()
    assert (counter.pending_rows, counter.total_rows, counter.parts) == (7, 7, 1)


def test_a_run_claim_cancelled_for_a_conflict_is_claimed_on_a_retry(ledger: Ledger, cancel: Cancel) -> None:
    ledger.record_part(part(1, 12), "o1")
    cancel(2, ("TransactionConflict", "None"))
    run = ledger.claim_run(10, "threshold", NOW)
    assert run is not None
    assert (run.run_id, run.rows) == ("run-000001", 12)
    assert ledger.counter().pending_rows == 0


def test_a_conflict_that_does_not_end_fails_the_call_and_changes_nothing(ledger: Ledger, cancel: Cancel) -> None:
    left = cancel(CONFLICT_ATTEMPTS + 1)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        ledger.record_part(part(1, 7), "o1")
    assert left == [1]
    assert ledger.counter().total_rows == 0


def test_a_failed_condition_is_a_duplicate_not_a_conflict_to_retry(ledger: Ledger, cancel: Cancel) -> None:
    left = cancel(5, ("ConditionalCheckFailed", "TransactionConflict", "None"))
    assert ledger.record_part(part(1, 7), "o1") is False
    assert left == [4]


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


def test_a_compaction_cancelled_for_a_conflict_is_swapped_on_a_retry(ledger: Ledger, cancel: Cancel) -> None:
    for number in (1, 2):
        ledger.record_part(part(number, 1), f"o{number}")
    cancel(2)
    assert ledger.compact(part(9, 2).model_copy(update={"part_id": "c12"}), ledger.parts()) is True
    assert [p.part_id for p in ledger.parts()] == ["c12"]


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
