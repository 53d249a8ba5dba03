"""Start retraining runs: claim pending rows in the ledger, snapshot the dataset, start the workflow.

The snapshot is the parts recorded before the run was claimed, newest first, within
``TrainingWindowDays`` and ``MaxTrainingRows`` (0: no limit); it always holds the newest part. A
part's age is that of its newest event (``Part.newest_event_at``) when its rows have event times,
else that of its recording. It
is written to ``datasets/snapshots/<run id>.json`` with every part's record, so the run knows
which parts it uses whatever happens to the ledger afterwards (compaction replaces parts).

A run drift started (trigger ``drift``: fewer than ``MinNewRows`` rows pending, but drifted from
the champion's training data; :mod:`conveyor.drift`) carries its drift report: whole in the
snapshot, in short in the workflow's input, and in the "Data Drift Detected" event published
as it starts. Its claim is made only while the champion's histogram still holds the rows the report
measured, so two ingestions that measured the same drift start one run.

The execution name is the run's id, so a replayed event, or a retry after a crash, can never
start a second execution of the same run. The workflow's input is documented in
statemachines/retraining.asl.json.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from botocore.exceptions import ClientError
from pydantic import BaseModel

from conveyor import aws
from conveyor.drift import DriftReport
from conveyor.errors import ConveyorError
from conveyor.state.control import is_frozen
from conveyor.state.ledger import Ledger, Part, Run, Trigger

SNAPSHOT_PREFIX = "datasets/snapshots/"


class DriftEventError(ConveyorError):
    """EventBridge refused the "Data Drift Detected" event; the run starts when the event is retried."""


class DatasetSnapshot(BaseModel):
    bucket: str
    manifest_key: str
    rows: int
    parts: int


class SnapshotLimits(BaseModel):
    """How much of the dataset a run trains on (``TrainingWindowDays``, ``MaxTrainingRows``); 0 is no limit."""

    training_window_days: int = 0
    max_training_rows: int = 0

    def select(self, parts: list[Part], claimed_at: datetime) -> list[Part]:
        """The newest of ``parts`` within the limits (at least the newest one), oldest first.

        A part is as new as its newest event time, or, when its rows have none, its ``created_at``:
        the window keeps the parts of its last days by that time, and rows are counted from the newest back.
        """
        newest_first = sorted(parts, key=lambda part: (_age(part), part.part_id), reverse=True)
        if self.training_window_days:
            since = claimed_at - timedelta(days=self.training_window_days)
            newest_first = [part for part in newest_first if _age(part) > since] or newest_first[:1]
        chosen: list[Part] = []
        rows = 0
        for part in newest_first:
            if chosen and self.max_training_rows and rows + part.rows > self.max_training_rows:
                break
            chosen.append(part)
            rows += part.rows
        return chosen[::-1]


def _age(part: Part) -> datetime:
    """When a part's data is from: its newest event time, else when it was recorded."""
    return part.newest_event_at or part.created_at


class DriftSummary(BaseModel):
    """Why drift started a run: the drifted features (most first), their largest index, the rows measured."""

    features: list[str]
    max_psi: float
    rows: int


class RetrainingInput(BaseModel):
    """What the retraining workflow receives."""

    run_id: str
    trigger: Trigger
    claimed_at: datetime
    new_rows: int
    dataset: DatasetSnapshot
    drift: DriftSummary | None = None


def start_due_runs(
    ledger: Ledger,
    *,
    bucket: str,
    state_machine_arn: str,
    min_rows: int,
    trigger: Trigger,
    now: datetime,
    limits: SnapshotLimits,
    drift: DriftReport | None = None,
) -> list[str]:
    """Claim a run if enough rows are pending, or else if ``drift`` found features drifted in them; then
    start every claimed run: the started run ids."""
    if is_frozen(ledger.table_name):
        return []
    if ledger.claim_run(min_rows, trigger, now) is None and drift is not None and drift.drifted:
        measured = (drift.baseline_id, drift.rows)
        ledger.claim_run(drift.rows, "drift", now, drift=drift.model_dump_json(), measured=measured)
    started = []
    for run in ledger.unstarted_runs():
        execution_arn = _start(ledger, run, bucket, state_machine_arn, limits)
        ledger.mark_started(run, execution_arn)
        started.append(run.run_id)
    return started


def _announce_drift(run: Run, drift: DriftReport) -> None:
    """Publish "Data Drift Detected" for the run drift started, as it starts: at least once (a start retried
    after a crash publishes again, with the same run id for consumers to tell)."""
    detail = {
        "run_id": run.run_id,
        "rows": drift.rows,
        "threshold": drift.threshold,
        "baseline_run_id": drift.baseline_run_id,
        "drifted": drift.drifted,
        "features": [{"name": f.name, "psi": f.psi, "outside_share": f.outside_share} for f in drift.features],
        "label_psi": drift.label.psi,
    }
    response = aws.client("events").put_events(
        Entries=[
            {
                "Source": "conveyor",
                "DetailType": "Data Drift Detected",
                "EventBusName": "default",
                "Detail": json.dumps(detail),
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise DriftEventError(f"EventBridge refused Data Drift Detected for {run.run_id}: {response['Entries']}")


def _start(ledger: Ledger, run: Run, bucket: str, state_machine_arn: str, limits: SnapshotLimits) -> str:
    parts = limits.select(ledger.parts(created_until=run.claimed_at), run.claimed_at)
    manifest_key = f"{SNAPSHOT_PREFIX}{run.run_id}.json"
    drift = None if run.drift is None else DriftReport.model_validate_json(run.drift)
    if drift is not None:
        _announce_drift(run, drift)
    manifest = {
        "run_id": run.run_id,
        "claimed_at": run.claimed_at.isoformat(),
        "limits": limits.model_dump(),
        "parts": [part.model_dump(mode="json") for part in parts],
        "drift": None if drift is None else drift.model_dump(mode="json"),
    }
    aws.client("s3").put_object(
        Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode(), ContentType="application/json"
    )
    execution_input = RetrainingInput(
        run_id=run.run_id,
        trigger=run.trigger,
        claimed_at=run.claimed_at,
        new_rows=run.rows,
        dataset=DatasetSnapshot(
            bucket=bucket, manifest_key=manifest_key, rows=sum(p.rows for p in parts), parts=len(parts)
        ),
        drift=None if drift is None else DriftSummary(features=drift.drifted, max_psi=drift.max_psi, rows=drift.rows),
    )
    sfn = aws.client("stepfunctions")
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=run.run_id, input=execution_input.model_dump_json()
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        account_arn = state_machine_arn.replace(":stateMachine:", ":execution:")
        return f"{account_arn}:{run.run_id}"
    arn: str = response["executionArn"]
    return arn
