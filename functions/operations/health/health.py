"""Health check: proves settings, the layer and the state table are wired together."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from conveyor.settings import Settings
from conveyor.state.health import HealthCheck, record_check


class HealthSettings(Settings):
    """The health function needs only the settings every function has."""


class HealthReport(BaseModel):
    """What the health function returns."""

    status: str
    version: str
    stage: str
    checked_at: datetime
    state_table_name: str


def check_health(settings: HealthSettings, request_id: str, now: datetime | None = None) -> HealthReport:
    """Record one health check in the state table and report the deployed version."""
    check = HealthCheck(
        stage=settings.stage,
        request_id=request_id,
        version=settings.conveyor_version,
        checked_at=now or datetime.now(UTC),
    )
    record_check(settings.state_table_name, check)
    return HealthReport(
        status="ok",
        version=check.version,
        stage=check.stage,
        checked_at=check.checked_at,
        state_table_name=settings.state_table_name,
    )
