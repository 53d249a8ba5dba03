"""The pending rows' drift histogram in the ledger: added with each part, once, and emptied with the claim.

What the cells hold is in test_drift.py; here a histogram is counts to add up and read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.state.ledger import CELLS_PER_ITEM, MAX_DRIFT_CELLS, Histogram, Ledger
from localcloud.adapters.atomic_requests import serialized_requests
from tests.unit.conftest import create_state_table
from tests.unit.test_ledger import NOW, part

BASELINE_ID = "0123456789abcdef"
OTHER_BASELINE_ID = "fedcba9876543210"
REPORT = '{"baseline_id": "0123456789abcdef", "drifted": ["temperature"]}'


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """A ledger on a table built from template.yaml's StateTable, so the two cannot drift."""
    with mock_aws(), serialized_requests():
        yield Ledger(create_state_table())
    aws.client.cache_clear()


def histogram(rows: int, counts: list[int], baseline_id: str = BASELINE_ID) -> Histogram:
    return Histogram(baseline_id=baseline_id, rows=rows, counts=counts)


def drift_items(ledger: Ledger) -> list[str]:
    """The sort keys of the table's drift items."""
    found = aws.client("dynamodb").query(
        TableName=ledger.table_name,
        KeyConditionExpression="pk = :family",
        ExpressionAttributeValues={":family": {"S": "drift"}},
    )
    return sorted(item["sk"]["S"] for item in found["Items"])


def raw_item(ledger: Ledger, sort_key: str) -> dict[str, Any]:
    """A drift item's attributes as DynamoDB holds them."""
    found = aws.client("dynamodb").get_item(
        TableName=ledger.table_name, Key={"pk": {"S": "drift"}, "sk": {"S": sort_key}}
    )
    item: dict[str, Any] = found["Item"]
    return item


def test_another_baselines_histogram_is_kept_apart(ledger: Ledger) -> None:
    # Given parts counted under two baselines (a new champion came into service between them)
    ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0]))
    ledger.record_part(part(2, 5), "o2", histogram(5, [1, 0, 3, 1], baseline_id=OTHER_BASELINE_ID))
    # Then each baseline's histogram holds its own parts' counts alone
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(10, [0, 7, 3, 0])
    assert ledger.pending_histogram(OTHER_BASELINE_ID, 4) == histogram(5, [1, 0, 3, 1], OTHER_BASELINE_ID)


def test_nothing_is_pending_before_a_part_is_recorded(ledger: Ledger) -> None:
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(0, [0, 0, 0, 0])


def test_a_parts_histogram_is_pending_with_its_rows(ledger: Ledger) -> None:
    # Given a part of 12 rows, 10 of them counted
    assert ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0])) is True
    # Then its rows and counts are pending
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(10, [0, 7, 3, 0])
    assert ledger.counter().pending_rows == 12


def test_a_parts_histogram_is_added_once_however_often_its_event_arrives(ledger: Ledger) -> None:
    ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0]))
    assert ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0])) is False
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(10, [0, 7, 3, 0])


def test_the_histograms_of_two_parts_add_up(ledger: Ledger) -> None:
    ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0]))
    ledger.record_part(part(2, 5), "o2", histogram(5, [1, 0, 3, 1]))
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(15, [1, 7, 6, 1])


def test_a_part_without_a_histogram_adds_its_rows_but_no_counts(ledger: Ledger) -> None:
    # Given a part recorded while no champion had a baseline
    ledger.record_part(part(1, 12), "o1")
    # Then its rows are pending, and no histogram
    assert ledger.counter().pending_rows == 12
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(0, [0, 0, 0, 0])


def sparse(cells: int, counted: dict[int, int]) -> list[int]:
    """A histogram of ``cells`` counts, zero but for ``counted``.

    Dense wide histograms are left to DynamoDB: moto's expression parser recurses once a term, so an
    update of more than about 150 cells overflows Python's stack (a cell counted 0 is not in the update).
    """
    return [counted.get(cell, 0) for cell in range(cells)]


# Counts on both sides of each item's end (100 cells an item).
ACROSS_ITEMS = {0: 1, 1: 2, 98: 3, 99: 4, 100: 5, 101: 6, 499: 7, 500: 8, 599: 9}


def test_a_histogram_wider_than_one_item_reads_back_whole(ledger: Ledger) -> None:
    # Given a histogram of 600 cells (six items of 100)
    counts = sparse(600, ACROSS_ITEMS)
    # When two parts are recorded with it
    ledger.record_part(part(1, 40), "o1", histogram(40, counts))
    ledger.record_part(part(2, 40), "o2", histogram(40, counts))
    # Then every cell reads back, added up, and the rows are those of the parts
    assert ledger.pending_histogram(BASELINE_ID, 600) == histogram(80, [2 * count for count in counts])
    assert drift_items(ledger) == [f"{BASELINE_ID}#{item}" for item in range(6)]
    # (each item holding its 100 cells: the first item ends with cell 99, the second starts with cell 100)
    first, second = (raw_item(ledger, f"{BASELINE_ID}#{item}") for item in (0, 1))
    assert ("h99" in first, "h100" in first, "h100" in second) == (True, False, True)


def test_an_item_of_a_wide_histogram_without_counts_still_holds_its_rows(ledger: Ledger) -> None:
    # Given a part counted only in the first item's cells (its rows all in one feature's range, say)
    ledger.record_part(part(1, 40), "o1", histogram(40, sparse(600, {3: 40})))
    # Then its histogram reads back, and a claim empties every item of it
    assert ledger.pending_histogram(BASELINE_ID, 600) == histogram(40, sparse(600, {3: 40}))
    assert ledger.claim_run(10, "threshold", NOW) is not None
    assert drift_items(ledger) == []


def race_a_part(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, *, before_read: bool) -> list[str]:
    """Record part 2 (5 rows counted [1, 0, 3, 1]) inside the claim's first read of the histograms:
    just before it (``before_read``: after the counter was read) or just after it (before the claim's
    transaction). Returns the races run."""
    read = ledger._histogram_items
    raced: list[str] = []

    def histogram_items() -> list[dict[str, Any]]:
        if raced:
            return read()
        raced.append("part 2")
        if before_read:
            ledger.record_part(part(2, 5), "o2", histogram(5, [1, 0, 3, 1]))
            return read()
        found = read()
        ledger.record_part(part(2, 5), "o2", histogram(5, [1, 0, 3, 1]))
        return found

    monkeypatch.setattr(ledger, "_histogram_items", histogram_items)
    return raced


@pytest.mark.parametrize(
    "before_read",
    [
        pytest.param(False, id="after-the-reads"),
        # (the histograms, read after the counter, hold the part whose rows the counter read lacks)
        pytest.param(True, id="between-the-counter-and-the-histograms"),
    ],
)
def test_a_part_recorded_during_a_claim_makes_the_claim_again_with_its_rows_and_histogram(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, before_read: bool
) -> None:
    # Given a part pending, and another recorded while a claim reads and writes
    ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0]))
    raced = race_a_part(ledger, monkeypatch, before_read=before_read)
    # When a run is claimed
    run = ledger.claim_run(10, "threshold", NOW)
    # Then the claim, made again, takes both parts' rows, and their histogram with them
    assert raced == ["part 2"]
    assert run is not None
    assert run.rows == 17
    assert ledger.counter().pending_rows == 0
    assert ledger.pending_histogram(BASELINE_ID, 4) == histogram(0, [0, 0, 0, 0])


def test_a_histogram_of_the_most_cells_a_part_can_carry_is_recorded(ledger: Ledger) -> None:
    # Given a count in the first and last cell of each of its 97 items
    counts = sparse(
        MAX_DRIFT_CELLS,
        {
            cell: 1
            for start in range(0, MAX_DRIFT_CELLS, CELLS_PER_ITEM)
            for cell in (start, start + CELLS_PER_ITEM - 1)
        },
    )
    # Then it is recorded with its part, and reads back whole
    assert ledger.record_part(part(1, 1), "o1", histogram(1, counts)) is True
    assert ledger.pending_histogram(BASELINE_ID, MAX_DRIFT_CELLS) == histogram(1, counts)


def test_a_histogram_of_more_cells_than_a_part_can_carry_is_refused_and_nothing_is_recorded(ledger: Ledger) -> None:
    cells = MAX_DRIFT_CELLS + 1
    with pytest.raises(ValueError, match=f"a drift histogram holds at most {97 * CELLS_PER_ITEM} cells, not {cells}"):
        ledger.record_part(part(1, 12), "o1", histogram(10, [1] * cells))
    assert ledger.counter().pending_rows == 0
    assert not ledger.seen("o1")


class CountingTransactions:
    """The DynamoDB client, recording how many items each transaction it sends holds."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sizes: list[int] = []

    def transact_write_items(self, **request: Any) -> Any:
        self.sizes.append(len(request["TransactItems"]))
        return self._client.transact_write_items(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_claim_never_sends_more_items_than_a_transaction_holds(ledger: Ledger) -> None:
    # Given 120 histogram items pending: two wide histograms of 60 items each, under two baselines
    wide = sparse(60 * CELLS_PER_ITEM, {cell: 1 for cell in range(0, 60 * CELLS_PER_ITEM, CELLS_PER_ITEM)})
    ledger.record_part(part(1, 1), "o1", histogram(1, wide))
    ledger.record_part(part(2, 1), "o2", histogram(1, wide, baseline_id=OTHER_BASELINE_ID))
    counting = CountingTransactions(aws.client("dynamodb"))
    # When a run is claimed
    run = Ledger(ledger.table_name, dynamodb=counting).claim_run(1, "threshold", NOW)
    # Then its transaction held DynamoDB's most, 100 items (the counter, the run and 98 histogram items),
    # and the next claim empties what is left
    assert run is not None
    assert counting.sizes == [100]
    assert len(drift_items(ledger)) == 22
    ledger.record_part(part(3, 1), "o3")
    assert ledger.claim_run(1, "threshold", NOW) is not None
    assert drift_items(ledger) == []


def test_a_drift_claim_is_made_only_while_the_histogram_holds_the_rows_measured(ledger: Ledger) -> None:
    # Given 10 rows counted, measured by one ingestion, then 5 more counted by another
    ledger.record_part(part(1, 12), "o1", histogram(10, [0, 7, 3, 0]))
    ledger.record_part(part(2, 5), "o2", histogram(5, [1, 0, 3, 1]))
    # When the first claims a drift run on the 10 rows it measured
    stale = ledger.claim_run(10, "drift", NOW, drift=REPORT, measured=(BASELINE_ID, 10))
    # Then it claims nothing (the second, having measured all 15, decides), and a claim on 15 is made
    assert stale is None
    assert ledger.counter().pending_rows == 17
    run = ledger.claim_run(15, "drift", NOW, drift=REPORT, measured=(BASELINE_ID, 15))
    assert run is not None
    assert (run.trigger, run.rows, run.drift) == ("drift", 17, REPORT)
