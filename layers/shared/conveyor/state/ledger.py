"""The dataset ledger in the state table: parts, processed objects, pending rows and runs.

Items (``pk`` / ``sk``; every family of the table is listed in :mod:`conveyor.state`):

- ``dataset`` / ``counter``: ``pending_rows`` since the last claimed run, ``total_rows``, ``parts``, ``runs``;
- ``dataset`` / ``part#<id>``: one part of the dataset and its channel objects (:mod:`conveyor.dataset`);
  compaction replaces small parts with one that holds their rows, in one transaction;
- ``object`` / ``<bucket>/<key>#<version>``: an input object already handled (accepted, with its part and
  rows, or quarantined);
- ``run`` / ``run-000001``: a retraining run, ``CLAIMED`` then ``STARTED``;
- ``drift`` / ``<baseline id>#<chunk>``: the pending rows' histogram in the cells of the champion's
  drift baseline (:mod:`conveyor.drift`), ``rows`` and counts ``h<cell>``, ``CELLS_PER_ITEM`` cells an
  item; recording a part adds to it, and claiming a run empties it with the rows it claims.

Every change is a conditional write, so concurrent uploads never lose a count and a replayed
event never records a part, or claims a run, twice. A transaction DynamoDB cancels for a conflict
with another request (which changes nothing) is retried here; the SDK's standard retry mode
retries throttled requests but not those.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor.dataset import Channel
from conveyor.schema import Layout
from conveyor.state import PARTITION_KEY, SORT_KEY
from conveyor.state.items import from_item, key, plain_key, table_client, to_item

COUNTER_KEY = key("dataset", "counter")
CLAIM_ATTEMPTS = 10
CONFLICT_ATTEMPTS = 8
# First back-off after a conflict, doubled on each retry, with full jitter (DynamoDB's own SDK base).
CONFLICT_BACKOFF_SECONDS = 0.025
# A transaction holds at most 100 items: the compacted part and the parts it replaces.
MAX_COMPACTED_SOURCES = 99
# Counts per histogram item: an update of all of them stays within DynamoDB's 4 KB expression limit
# (and within what moto's expression parser takes: it recurses once per action, past 1,000 at 155 or so).
CELLS_PER_ITEM = 100
# A part's record takes 3 items of a transaction, leaving 97 for its histogram.
MAX_DRIFT_CELLS = 97 * CELLS_PER_ITEM
# A claim takes 2 items of a transaction; the rest empty histograms (more is only possible after
# several champions with very wide schemas between two runs: what is left is emptied by the next claim)
MAX_EMPTIED_HISTOGRAM_ITEMS = 98


class ChannelObject(BaseModel):
    """A channel object of a part, and its metadata sidecar (``conveyor.dataset.metadata_key``) if it has one."""

    key: str
    rows: int
    bytes: int
    metadata_key: str | None = None


class Part(BaseModel):
    """A part: its name (``conveyor.dataset.part_name``), rows and channel objects.

    ``channels`` is empty for a part written before rows were split at ingestion: its rows are
    then the one object at ``key``. A compacted part names the parts it replaced in ``sources``
    and has the ``created_at`` of the newest of them. ``layout`` is the columns its rows are in; None
    for a part recorded before parts recorded it, which is taken to be in the schema in force.
    ``newest_event_at`` is the newest event time among its rows: None when its schema has no
    event_time field or no row had one (its ``created_at`` then stands for it).
    """

    part_id: str
    key: str
    rows: int
    source_key: str
    source_version: str
    created_at: datetime
    channels: dict[Channel, ChannelObject] = {}
    sources: list[str] = []
    layout: Layout | None = None
    newest_event_at: datetime | None = None

    @property
    def bytes(self) -> int:
        return sum(channel.bytes for channel in self.channels.values())


class Counter(BaseModel):
    pending_rows: int = 0
    total_rows: int = 0
    parts: int = 0
    runs: int = 0


Trigger = Literal["threshold", "schedule", "drift"]


class Run(BaseModel):
    run_id: str
    number: int
    status: Literal["CLAIMED", "STARTED"]
    trigger: Trigger
    rows: int
    claimed_at: datetime
    execution_arn: str | None = None
    drift: str | None = None
    """For a run drift started, the drift report that started it (``conveyor.drift.DriftReport``, as JSON)."""


class Histogram(BaseModel):
    """Rows counted into the cells of a drift baseline (``conveyor.drift.Baseline.id``)."""

    baseline_id: str
    rows: int
    counts: list[int]


class ClaimContendedError(Exception):
    """The counter kept changing under a run claim; the event will be retried."""


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    reasons = error.response.get("CancellationReasons", [])
    return code == "TransactionCanceledException" and any(
        reason.get("Code") == "ConditionalCheckFailed" for reason in reasons
    )


def _is_conflict(error: ClientError) -> bool:
    """Whether DynamoDB refused the request because another one was changing the same item."""
    code = error.response["Error"]["Code"]
    if code == "TransactionConflictException":
        return True
    reasons = error.response.get("CancellationReasons", [])
    return (
        code == "TransactionCanceledException"
        and not _is_condition_failure(error)
        and any(reason.get("Code") == "TransactionConflict" for reason in reasons)
    )


def _histogram_rows(items: list[dict[str, Any]], baseline_id: str) -> int:
    """The rows of ``baseline_id``'s histogram among ``items`` (its first item holds them)."""
    return next((item["rows"] for item in items if item[SORT_KEY] == f"{baseline_id}#0"), 0)


def _retrying_conflicts[T](request: Callable[[], T]) -> T:
    """Make ``request`` again while DynamoDB cancels it for a conflict (it changed nothing)."""
    attempt = 0
    while True:
        try:
            return request()
        except ClientError as error:
            attempt += 1
            if attempt == CONFLICT_ATTEMPTS or not _is_conflict(error):
                raise
            time.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * 2 ** (attempt - 1)))


class Ledger:
    """The ledger of one state table."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._client = dynamodb

    @property
    def _dynamodb(self) -> Any:
        return table_client(self._client)

    @staticmethod
    def object_id(bucket: str, key: str, version: str) -> str:
        return f"{bucket}/{key}#{version}"

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": to_item(item),
                "ConditionExpression": f"attribute_not_exists({PARTITION_KEY})",
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> None:
        _retrying_conflicts(lambda: self._dynamodb.transact_write_items(TransactItems=items))

    def seen(self, object_id: str) -> bool:
        """Whether the input object was handled already."""
        found = self._dynamodb.get_item(TableName=self.table_name, Key=key("object", object_id), ConsistentRead=True)
        return "Item" in found

    def record_part(self, part: Part, object_id: str, histogram: Histogram | None = None) -> bool:
        """Add ``part`` and its rows to the pending count, and its ``histogram`` to the pending rows', once.
        False if it was recorded before."""
        marker = plain_key("object", object_id) | {"outcome": "accepted", "part_id": part.part_id, "rows": part.rows}
        part_item = plain_key("dataset", f"part#{part.part_id}") | part.model_dump(mode="json")
        counter_update = {
            "Update": {
                "TableName": self.table_name,
                "Key": COUNTER_KEY,
                "UpdateExpression": "ADD pending_rows :rows, total_rows :rows, parts :one",
                "ExpressionAttributeValues": to_item({":rows": part.rows, ":one": 1}),
            }
        }
        drift = [] if histogram is None else self._histogram_updates(histogram)
        try:
            self._transact([self._put_new(part_item), self._put_new(marker), counter_update, *drift])
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def _histogram_updates(self, histogram: Histogram) -> list[dict[str, Any]]:
        """Updates adding ``histogram`` to the pending one of its baseline: each item its rows and its cells' counts."""
        if len(histogram.counts) > MAX_DRIFT_CELLS:
            raise ValueError(f"a drift histogram holds at most {MAX_DRIFT_CELLS} cells, not {len(histogram.counts)}")
        updates = []
        for start in range(0, len(histogram.counts), CELLS_PER_ITEM):
            cells = {
                f"h{cell}": count
                for cell, count in enumerate(histogram.counts[start : start + CELLS_PER_ITEM], start)
                if count
            }
            additions = ", ".join(f"#{name} :{name}" for name in cells)
            updates.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": key("drift", f"{histogram.baseline_id}#{start // CELLS_PER_ITEM}"),
                        "UpdateExpression": "ADD #rows :rows" + (f", {additions}" if additions else ""),
                        "ExpressionAttributeNames": {"#rows": "rows"} | {f"#{name}": name for name in cells},
                        "ExpressionAttributeValues": to_item(
                            {":rows": histogram.rows} | {f":{n}": c for n, c in cells.items()}
                        ),
                    }
                }
            )
        return updates

    def _histogram_items(self) -> list[dict[str, Any]]:
        """Every item of every pending histogram, as plain values."""
        found = []
        for page in self._dynamodb.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family",
            ExpressionAttributeValues=to_item({":family": "drift"}),
            ConsistentRead=True,
        ):
            found += [from_item(item) for item in page["Items"]]
        return found

    def pending_histogram(self, baseline_id: str, cells: int) -> Histogram:
        """The histogram of the rows pending since the last claimed run, in the cells of ``baseline_id``."""
        counts = [0] * cells
        items = self._histogram_items()
        for found in items:
            if found[SORT_KEY].rpartition("#")[0] != baseline_id:
                continue
            for name, count in found.items():
                # An item's attributes are its key, rows and its cells, each h<cell>
                if name.startswith("h"):
                    counts[int(name[1:])] = count
        return Histogram(baseline_id=baseline_id, rows=_histogram_rows(items, baseline_id), counts=counts)

    def record_quarantine(self, object_id: str, quarantine_key: str) -> bool:
        """Remember that the object was set aside, once. False if it was handled before."""
        marker = plain_key("object", object_id) | {"outcome": "quarantined", "quarantine_key": quarantine_key}
        try:
            self._transact([self._put_new(marker)])
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def compact(self, compacted: Part, replaced: list[Part]) -> bool:
        """Swap ``replaced`` for ``compacted`` in one transaction; False if any was already swapped."""
        if not 0 < len(replaced) <= MAX_COMPACTED_SOURCES:
            raise ValueError(f"a compaction replaces 1 to {MAX_COMPACTED_SOURCES} parts, not {len(replaced)}")
        removals = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": key("dataset", f"part#{part.part_id}"),
                    "ConditionExpression": f"attribute_exists({PARTITION_KEY})",
                }
            }
            for part in replaced
        ]
        item = plain_key("dataset", f"part#{compacted.part_id}") | compacted.model_dump(mode="json")
        try:
            self._transact([self._put_new(item), *removals])
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def find_parts(self, part_ids: list[str]) -> dict[str, Part]:
        """The parts of ``part_ids`` that are in the dataset now, by id."""
        found: dict[str, Part] = {}
        for start in range(0, len(part_ids), 100):
            keys = [key("dataset", f"part#{part_id}") for part_id in part_ids[start : start + 100]]
            while keys:
                response = self._dynamodb.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response["Responses"].get(self.table_name, []):
                    part = Part.model_validate(from_item(item))
                    found[part.part_id] = part
                keys = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
        return found

    def accepted_objects(self) -> dict[str, int]:
        """Rows each accepted input object added, by object id, whatever compaction did to its part since."""
        found: dict[str, int] = {}
        for page in self._dynamodb.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family",
            FilterExpression="outcome = :accepted",
            ExpressionAttributeValues=to_item({":family": "object", ":accepted": "accepted"}),
            ConsistentRead=True,
        ):
            for item in page["Items"]:
                plain = from_item(item)
                found[plain[SORT_KEY]] = plain["rows"]
        return found

    def counter(self) -> Counter:
        item = self._dynamodb.get_item(TableName=self.table_name, Key=COUNTER_KEY, ConsistentRead=True)
        return Counter.model_validate(from_item(item.get("Item", {})))

    def parts(self, created_until: datetime | None = None) -> list[Part]:
        """Every part of the dataset (created no later than ``created_until``), oldest first."""
        found = []
        for page in self._dynamodb.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family AND begins_with({SORT_KEY}, :part)",
            ExpressionAttributeValues=to_item({":family": "dataset", ":part": "part#"}),
            ConsistentRead=True,
        ):
            found += [Part.model_validate(from_item(item)) for item in page["Items"]]
        if created_until is not None:
            found = [part for part in found if part.created_at <= created_until]
        return sorted(found, key=lambda part: (part.created_at, part.part_id))

    def claim_run(
        self,
        min_rows: int,
        trigger: Trigger,
        now: datetime,
        drift: str | None = None,
        measured: tuple[str, int] | None = None,
    ) -> Run | None:
        """Claim the pending rows for a new run if there are at least ``min_rows``; None if not.

        ``measured`` (a baseline id and rows) claims only while that baseline's histogram holds those rows:
        the rows a drift report measured, so a report another claim emptied, or newer rows another
        ingestion will measure, starts nothing here.

        The pending rows' histograms are emptied with the claim, each as it was read. With histograms to
        empty, the claim takes exactly the pending rows read before them: a part recorded after that
        read (which the histograms may or may not hold yet) cancels the claim, which is then made again.
        Without, as before drift: the rows pending may grow meanwhile, and the claim takes those read.
        """
        for _ in range(CLAIM_ATTEMPTS):
            counter = self.counter()
            if counter.pending_rows < max(min_rows, 1):
                return None
            histograms = self._histogram_items()
            if measured is not None and _histogram_rows(histograms, measured[0]) != measured[1]:
                return None
            number = counter.runs + 1
            run = Run(
                run_id=f"run-{number:06d}",
                number=number,
                status="CLAIMED",
                trigger=trigger,
                rows=counter.pending_rows,
                claimed_at=now,
                drift=drift,
            )
            claim = {
                "Update": {
                    "TableName": self.table_name,
                    "Key": COUNTER_KEY,
                    "UpdateExpression": "SET runs = :number, pending_rows = pending_rows - :rows",
                    "ConditionExpression": "(attribute_not_exists(runs) OR runs = :runs) AND "
                    + ("pending_rows = :rows" if histograms else "pending_rows >= :rows"),
                    "ExpressionAttributeValues": to_item(
                        {":number": number, ":rows": counter.pending_rows, ":runs": counter.runs}
                    ),
                }
            }
            run_item = plain_key("run", run.run_id) | run.model_dump(mode="json")
            emptied = [
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": key("drift", found[SORT_KEY]),
                        "ConditionExpression": "#rows = :rows",
                        "ExpressionAttributeNames": {"#rows": "rows"},
                        "ExpressionAttributeValues": to_item({":rows": found["rows"]}),
                    }
                }
                for found in histograms[:MAX_EMPTIED_HISTOGRAM_ITEMS]
            ]
            try:
                self._transact([claim, self._put_new(run_item), *emptied])
            except ClientError as error:
                if _is_condition_failure(error):
                    continue
                raise
            return run
        raise ClaimContendedError(f"the dataset counter changed {CLAIM_ATTEMPTS} times during a run claim")

    def run(self, run_id: str) -> Run | None:
        """The run ``run_id``, or None if no run has that id."""
        found = self._dynamodb.get_item(TableName=self.table_name, Key=key("run", run_id), ConsistentRead=True)
        return Run.model_validate(from_item(found["Item"])) if "Item" in found else None

    def unstarted_runs(self) -> list[Run]:
        """Runs claimed but not yet started (a crash between the two leaves one behind)."""
        response = self._dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression=f"{PARTITION_KEY} = :family",
            FilterExpression="#status = :claimed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":family": "run", ":claimed": "CLAIMED"}),
            ConsistentRead=True,
        )
        return [Run.model_validate(from_item(item)) for item in response["Items"]]

    def mark_started(self, run: Run, execution_arn: str) -> None:
        _retrying_conflicts(
            lambda: self._dynamodb.update_item(
                TableName=self.table_name,
                Key=key("run", run.run_id),
                UpdateExpression="SET #status = :started, execution_arn = :arn",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":started": "STARTED", ":arn": execution_arn}),
            )
        )
