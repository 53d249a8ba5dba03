"""Concurrent requests to the local cloud are each handled whole, as AWS handles them.

The race the adapter closes is nondeterministic. To show it within a bounded effort, threads switch
every 10 µs instead of every 5 ms, the table is large enough that a transaction's copy of it
spans many switches, and half the writers add new items while the other half run transactions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conveyor.state.items import key
from localcloud import LocalCloud
from localcloud.adapters.atomic_requests import atomic_requests
from localcloud.adapters.dynamodb_transactions import dynamodb_transactions
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud

WRITERS = 8
WRITES_PER_WRITER = 25
ITEMS_BEFORE = 200
RACE = "dictionary changed size during iteration"


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def item(partition: str) -> dict[str, Any]:
    return key(partition, "race")


def fill(cloud: LocalCloud, table: str) -> None:
    dynamodb = cloud.client("dynamodb")
    for start in range(0, ITEMS_BEFORE, 25):
        requests = [{"PutRequest": {"Item": item(f"before-{n}")}} for n in range(start, start + 25)]
        dynamodb.batch_write_item(RequestItems={table: requests})


def write_concurrently(cloud: LocalCloud, table: str, *, stop_at_first_error: bool) -> list[Exception]:
    """Writers add new items, half with PutItem and half in transactions; the errors they met."""
    errors: list[Exception] = []
    failed = threading.Event()
    # One client per writer, made here: creating clients is not thread-safe.
    clients = [cloud.client("dynamodb") for _ in range(WRITERS)]

    def write(writer: int) -> None:
        dynamodb = clients[writer]
        for n in range(WRITES_PER_WRITER):
            if stop_at_first_error and failed.is_set():
                return
            new = item(f"writer-{writer}-{n}")
            try:
                if writer % 2:
                    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": new}}])
                else:
                    dynamodb.put_item(TableName=table, Item=new)
            except Exception as error:  # any failure is the outcome under test
                errors.append(error)
                failed.set()

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    return errors


def item_count(cloud: LocalCloud, table: str) -> int:
    pages = cloud.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_gap_moto_fails_a_transaction_while_another_thread_writes() -> None:
    # Moto's race is in its backup of the whole table, which dynamodb_transactions leaves out too
    with cloud_without(atomic_requests, dynamodb_transactions) as cloud:
        table = cloud.outputs["StateTableName"]
        fill(cloud, table)
        errors = write_concurrently(cloud, table, stop_at_first_error=True)
        assert errors, f"no request failed in {WRITERS * WRITES_PER_WRITER} concurrent writes"
        assert any(isinstance(e, RuntimeError) and RACE in str(e) for e in errors)


def test_fix_every_concurrent_write_succeeds_and_is_kept(cloud: LocalCloud) -> None:
    # Given the state table with items in it
    table = cloud.outputs["StateTableName"]
    fill(cloud, table)
    # When writers add items at once, some of them in transactions
    errors = write_concurrently(cloud, table, stop_at_first_error=False)
    # Then none failed and the table holds every item
    assert errors == []
    assert item_count(cloud, table) == ITEMS_BEFORE + WRITERS * WRITES_PER_WRITER
