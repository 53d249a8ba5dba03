"""A run's snapshot: the newest parts within TrainingWindowDays and MaxTrainingRows, recorded in full."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.dataset import channel_key, part_name
from conveyor.retraining import SnapshotLimits, start_due_runs
from conveyor.state.ledger import ChannelObject, Ledger, Part
from tests.unit.conftest import create_state_table

CLAIM = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def part(days_old: float, rows: int, name: str | None = None) -> Part:
    part_id = name or f"p{days_old}"
    return Part(
        part_id=part_id,
        key=part_name(part_id),
        rows=rows,
        source_key=f"incoming/{part_id}.csv",
        source_version="null",
        created_at=CLAIM - timedelta(days=days_old),
        channels={"train": ChannelObject(key=channel_key(part_id, "train"), rows=rows, bytes=rows * 40)},
    )


PARTS = [part(10, 100), part(5, 100), part(2, 100), part(0.5, 100)]


def chosen(limits: SnapshotLimits) -> list[str]:
    return [p.part_id for p in limits.select(PARTS, CLAIM)]


def test_without_limits_a_run_takes_every_part_oldest_first() -> None:
    assert chosen(SnapshotLimits()) == ["p10", "p5", "p2", "p0.5"]


def test_the_window_keeps_the_parts_of_its_last_days() -> None:
    assert chosen(SnapshotLimits(training_window_days=3)) == ["p2", "p0.5"]
    assert chosen(SnapshotLimits(training_window_days=5)) == ["p2", "p0.5"]
    assert chosen(SnapshotLimits(training_window_days=6)) == ["p5", "p2", "p0.5"]


def test_max_training_rows_takes_whole_parts_from_the_newest_back() -> None:
    assert chosen(SnapshotLimits(max_training_rows=299)) == ["p2", "p0.5"]
    assert chosen(SnapshotLimits(max_training_rows=300)) == ["p5", "p2", "p0.5"]


def test_a_run_always_has_the_newest_part_whatever_the_limits() -> None:
    assert chosen(SnapshotLimits(max_training_rows=10)) == ["p0.5"]
    old = [part(30, 100)]
    assert [p.part_id for p in SnapshotLimits(training_window_days=1).select(old, CLAIM)] == ["p30"]


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with mock_aws():
        ledger = Ledger(create_state_table())
        boto3.client("s3").create_bucket(Bucket="data")
        yield ledger
    aws.client.cache_clear()


def test_the_snapshot_records_each_part_in_full_and_the_limits_it_was_taken_under(ledger: Ledger) -> None:
    for number, each in enumerate(PARTS):
        ledger.record_part(each, f"object-{number}")
    role = "arn:aws:iam::123456789012:role/sfn"
    machine = boto3.client("stepfunctions").create_state_machine(
        name="retraining",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=role,
    )["stateMachineArn"]
    limits = SnapshotLimits(training_window_days=6)
    started = start_due_runs(
        ledger, bucket="data", state_machine_arn=machine, min_rows=1, trigger="threshold", now=CLAIM, limits=limits
    )
    assert started == ["run-000001"]
    snapshot = json.loads(
        boto3.client("s3").get_object(Bucket="data", Key="datasets/snapshots/run-000001.json")["Body"].read()
    )
    assert snapshot["limits"] == {"training_window_days": 6, "max_training_rows": 0}
    assert [Part.model_validate(each) for each in snapshot["parts"]] == PARTS[1:]
    execution = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"][0]
    run_input = json.loads(
        boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    )
    assert (run_input["dataset"]["rows"], run_input["dataset"]["parts"]) == (300, 3)


def recorded_now(days_old_events: float | None, name: str) -> Part:
    """A part recorded just now, whose newest event is ``days_old_events`` old (None: its rows had no event time)."""
    each = part(0, 100, name)
    newest = None if days_old_events is None else CLAIM - timedelta(days=days_old_events)
    return each.model_copy(update={"newest_event_at": newest})


def test_the_window_goes_by_event_time_where_parts_have_one() -> None:
    # Given parts all recorded just now: a backfill of last month's events, last week's, and one without event times
    parts = [recorded_now(30, "backfill"), recorded_now(6, "last-week"), recorded_now(None, "untimed")]
    # When a run takes the last 10 days
    selected = SnapshotLimits(training_window_days=10).select(parts, CLAIM)
    # Then the backfill is outside the window; the part without event times goes by when it was recorded
    assert [p.part_id for p in selected] == ["last-week", "untimed"]


def test_parts_are_ordered_by_event_time_when_rows_are_counted_from_the_newest_back() -> None:
    # Given an old part whose events are recent, and a newer one whose events are older
    late_events = part(3, 100, "late-events").model_copy(update={"newest_event_at": CLAIM - timedelta(hours=1)})
    early_events = part(1, 100, "early-events").model_copy(update={"newest_event_at": CLAIM - timedelta(days=2)})
    # Then the part with the newest events is the one a row limit keeps
    assert [p.part_id for p in SnapshotLimits(max_training_rows=100).select([late_events, early_events], CLAIM)] == [
        "late-events"
    ]
