"""Health check: proves settings, the layer and the state table are wired together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from conveyor.settings import Settings
from conveyor.state_table import Record, StateTable

# Health items are evidence of a check, not state: the table's TTL removes them after a day.
RECORD_LIFETIME = timedelta(days=1)


class HealthSettings(Settings):
    """The health function needs only the settings every function has."""


class HealthCheck(Record):
    """One health check, as written to the state table."""

    version: str
    checked_at: datetime


class HealthReport(BaseModel):
    """What the health function returns."""

    status: str
    version: str
    stage: str
    checked_at: datetime
    state_table_name: str


def check_health(settings: HealthSettings, request_id: str, now: datetime | None = None) -> HealthReport:
    """Write one health item to the state table and report the deployed version."""
    checked_at = now or datetime.now(UTC)
    StateTable(settings.state_table_name).put(
        HealthCheck(
            pk=f"health#{settings.stage}",
            sk=f"{checked_at.isoformat()}#{request_id}",
            expiration=int((checked_at + RECORD_LIFETIME).timestamp()),
            version=settings.conveyor_version,
            checked_at=checked_at,
        )
    )
    return HealthReport(
        status="ok",
        version=settings.conveyor_version,
        stage=settings.stage,
        checked_at=checked_at,
        state_table_name=settings.state_table_name,
    )
