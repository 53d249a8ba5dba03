"""Scheduled retraining: start a run when rows are pending, even fewer than MinNewRows."""

from __future__ import annotations

from datetime import datetime

from conveyor.retraining import SnapshotLimits, start_due_runs
from conveyor.settings import Settings
from conveyor.state.ledger import Ledger


class ScheduleSettings(Settings):
    data_bucket_name: str
    retraining_state_machine_arn: str
    training_window_days: int = 0
    max_training_rows: int = 0


def run_schedule(settings: ScheduleSettings, ledger: Ledger, now: datetime) -> list[str]:
    """Start a run for whatever rows are pending (at least one); the started run ids."""
    return start_due_runs(
        ledger,
        bucket=settings.data_bucket_name,
        state_machine_arn=settings.retraining_state_machine_arn,
        min_rows=1,
        trigger="schedule",
        now=now,
        limits=SnapshotLimits.model_validate(settings, from_attributes=True),
    )
