"""The ledger when DynamoDB refuses a request.

A failed condition means the write was made before: the answer is False, and nothing is retried.
A transaction cancelled for a conflict changed nothing and is made again, with a back-off. Anything
else (throttling, a cancellation for another reason) fails the call: it is never taken for a
duplicate, which would drop an upload, and it changes nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conveyor import aws
from conveyor.state.ledger import ClaimContendedError, Ledger
from localcloud.adapters.atomic_requests import serialized_requests
from tests.unit.conftest import create_state_table
from tests.unit.test_ledger import NOW, part

RUN_ARN = "arn:aws:states:us-east-1:123456789012:execution:retraining:run-000001"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger on a table built from template.yaml's StateTable, holding parts p1 and p2 (6 rows each)."""
    with mock_aws(), serialized_requests():
        ledger = Ledger(create_state_table())
        for number in (1, 2):
            ledger.record_part(part(number, 6), f"o{number}")
        yield ledger
    aws.client.cache_clear()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-offs the ledger waits between attempts, in seconds; no test sleeps them."""
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def refused(code: str, *reasons: str) -> ClientError:
    """DynamoDB's error ``code``; for a cancelled transaction, with the cancellation reason of each item."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": f"refused: {code}"}}
    if reasons:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


CONFLICT = refused("TransactionCanceledException", "None", "TransactionConflict")
CONDITION_FAILED = refused("TransactionCanceledException", "ConditionalCheckFailed", "None")

Refuse = Callable[..., list[int]]


@pytest.fixture
def refuse(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> Refuse:
    """Make DynamoDB refuse the next ``times`` requests of ``operation`` with ``error``; returns the count left.

    A refused request changes nothing (DynamoDB cancels a transaction before applying any of it),
    so the refused calls never reach the table.
    """

    def arrange(times: int, error: ClientError, operation: str = "transact_write_items") -> list[int]:
        client = aws.client("dynamodb")
        apply = getattr(client, operation)
        left = [times]

        def refusing(**request: Any) -> Any:
            if left[0]:
                left[0] -= 1
                raise error
            return apply(**request)

        monkeypatch.setattr(client, operation, refusing)
        return left

    return arrange


def table(ledger: Ledger) -> list[dict[str, Any]]:
    """Every item of the state table, as DynamoDB holds it."""
    items: list[dict[str, Any]] = aws.client("dynamodb").scan(TableName=ledger.table_name)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def record_a_part(ledger: Ledger) -> Any:
    return ledger.record_part(part(3, 5), "bucket/incoming/f3.csv#v1")


def quarantine_an_object(ledger: Ledger) -> Any:
    return ledger.record_quarantine("bucket/incoming/bad.csv#v1", "quarantine/bad.csv")


def compact_the_parts(ledger: Ledger) -> Any:
    return ledger.compact(part(9, 12).model_copy(update={"part_id": "c12"}), ledger.parts())


def claim_a_run(ledger: Ledger) -> Any:
    return ledger.claim_run(10, "threshold", NOW)


RECORDS = [record_a_part, quarantine_an_object, compact_the_parts]
WRITES = [*RECORDS, claim_a_run]

DUPLICATES = {
    "condition failed": refused("ConditionalCheckFailedException"),
    "cancelled for a failed condition": CONDITION_FAILED,
    "cancelled for a failed condition and a conflict": refused(
        "TransactionCanceledException", "ConditionalCheckFailed", "TransactionConflict", "None"
    ),
}
FAILURES = {
    "throughput exceeded": refused("ProvisionedThroughputExceededException"),
    "throttled": refused("ThrottlingException"),
    "cancelled as invalid": refused("TransactionCanceledException", "None", "ValidationError"),
    "cancelled as throttled": refused("TransactionCanceledException", "ThrottlingError", "None"),
    "cancelled without reasons": refused("TransactionCanceledException"),
}


@pytest.mark.parametrize("error", DUPLICATES.values(), ids=DUPLICATES.keys())
@pytest.mark.parametrize("write", RECORDS)
def test_a_write_refused_for_a_failed_condition_was_made_before_and_is_not_retried(
    ledger: Ledger, refuse: Refuse, write: Callable[[Ledger], Any], error: ClientError
) -> None:
    # Given DynamoDB refuses the write because its condition fails (its item is there already)
    before = table(ledger)
    left = refuse(2, error)
    # When the ledger makes it
    outcome = write(ledger)
    # Then it answers that the write was made before, tried once, and the table is as it was
    assert outcome is False
    assert left == [1]
    assert table(ledger) == before


@pytest.mark.parametrize("error", FAILURES.values(), ids=FAILURES.keys())
@pytest.mark.parametrize("write", WRITES)
def test_a_write_refused_for_another_reason_fails_the_call_and_changes_nothing(
    ledger: Ledger, refuse: Refuse, write: Callable[[Ledger], Any], error: ClientError
) -> None:
    # Given DynamoDB refuses the write, neither for a failed condition nor for a conflict
    before = table(ledger)
    left = refuse(2, error)
    # When the ledger makes it, then the call fails with DynamoDB's error, after one attempt
    with pytest.raises(ClientError) as raised:
        write(ledger)
    assert raised.value.response["Error"]["Code"] == error.response["Error"]["Code"]
    assert left == [1]
    # And the table is as it was: no duplicate dropped, nothing recorded
    assert table(ledger) == before


@pytest.mark.parametrize("write", WRITES)
def test_a_conflict_that_does_not_end_fails_the_call_after_eight_attempts_and_changes_nothing(
    ledger: Ledger, refuse: Refuse, write: Callable[[Ledger], Any]
) -> None:
    before = table(ledger)
    left = refuse(9, CONFLICT)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        write(ledger)
    assert left == [1]
    assert table(ledger) == before


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [
        pytest.param(max, [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6], id="longest"),
        pytest.param(min, [0.0] * 7, id="shortest"),
    ],
)
def test_the_waits_between_conflicts_double_from_25_ms_with_full_jitter(
    ledger: Ledger,
    refuse: Refuse,
    waits: list[float],
    jitter: Callable[[float, float], float],
    expected: list[float],
) -> None:
    # Given a jitter that draws the longest (or shortest) wait it may
    refuse(8, CONFLICT)
    # When every attempt of a write conflicts
    with mock.patch.object(random, "uniform", jitter), pytest.raises(ClientError):
        record_a_part(ledger)
    # Then before each retry it waited a draw between nothing and 25 ms, 50 ms, 100 ms, ...
    assert waits == pytest.approx(expected)


def test_a_part_cancelled_for_a_conflict_is_recorded_on_a_retry_and_counted_once(
    ledger: Ledger, refuse: Refuse
) -> None:
    refuse(3, CONFLICT)
    assert record_a_part(ledger) is True
    counter = ledger.counter()
    assert (counter.pending_rows, counter.total_rows, counter.parts) == (17, 17, 3)
    assert ledger.seen("bucket/incoming/f3.csv#v1")


def test_a_quarantine_cancelled_for_a_conflict_is_recorded_on_a_retry(ledger: Ledger, refuse: Refuse) -> None:
    refuse(2, CONFLICT)
    assert quarantine_an_object(ledger) is True
    assert ledger.seen("bucket/incoming/bad.csv#v1")


def test_a_compaction_cancelled_for_a_conflict_is_swapped_on_a_retry(ledger: Ledger, refuse: Refuse) -> None:
    refuse(2, CONFLICT)
    assert compact_the_parts(ledger) is True
    assert [p.part_id for p in ledger.parts()] == ["c12"]


def test_a_run_claim_cancelled_for_a_conflict_is_claimed_on_a_retry(ledger: Ledger, refuse: Refuse) -> None:
    refuse(2, refused("TransactionCanceledException", "TransactionConflict", "None"))
    run = claim_a_run(ledger)
    assert run is not None
    assert (run.run_id, run.rows) == ("run-000001", 12)
    assert ledger.counter().pending_rows == 0


def test_a_run_start_that_conflicts_with_a_transaction_is_made_on_a_retry(ledger: Ledger, refuse: Refuse) -> None:
    # Given a claimed run, whose start DynamoDB refuses twice while a transaction changes its item
    run = claim_a_run(ledger)
    assert run is not None
    refuse(2, refused("TransactionConflictException"), operation="update_item")
    # When it is marked started, then it is started
    ledger.mark_started(run, RUN_ARN)
    assert ledger.unstarted_runs() == []


def test_a_claim_that_lost_the_race_to_another_claim_claims_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another claim takes the pending rows between this claim's read of the counter and its write
    client = aws.client("dynamodb")
    apply = client.transact_write_items
    raced = []

    def transact_write_items(**request: Any) -> Any:
        if not raced:
            raced.append("the other claim")
            ledger.claim_run(10, "schedule", NOW)
        return apply(**request)

    monkeypatch.setattr(client, "transact_write_items", transact_write_items)
    # When this claim is made, then it finds nothing left to claim, and the other claim's run is the only one
    assert claim_a_run(ledger) is None
    assert [(r.run_id, r.trigger, r.rows) for r in ledger.unstarted_runs()] == [("run-000001", "schedule", 12)]
    assert ledger.counter().pending_rows == 0


def test_a_claim_whose_counter_changed_nine_times_claims_on_its_tenth_attempt(ledger: Ledger, refuse: Refuse) -> None:
    refuse(9, CONDITION_FAILED)
    run = claim_a_run(ledger)
    assert run is not None
    assert [r.run_id for r in ledger.unstarted_runs()] == [run.run_id] == ["run-000001"]


def test_a_claim_whose_counter_changed_ten_times_is_contended_and_claims_nothing(
    ledger: Ledger, refuse: Refuse
) -> None:
    before = table(ledger)
    refuse(10, CONDITION_FAILED)
    with pytest.raises(ClaimContendedError, match="changed 10 times"):
        claim_a_run(ledger)
    assert table(ledger) == before
