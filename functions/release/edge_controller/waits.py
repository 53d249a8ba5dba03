"""What the edge workflow waits on: each Neo compilation, the canary's outcome, the fleet's rollout.

Each look answers at once. While the thing watched is still under way it raises an
``...InProgressError``, which the workflow's Retry turns into a growing wait (30 s doubling to
5 minutes): one state transition per look. Each has a deadline, after which it answers anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from targets import EdgeSettings

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.state.canary import CanaryState, get_canary

ROLLING_OUT = {"IN_PROGRESS", "SCHEDULED"}
# The counts of an IoT job's jobProcessDetails that say where each device is.
DEVICE_COUNTS = (
    "numberOfQueuedThings",
    "numberOfInProgressThings",
    "numberOfSucceededThings",
    "numberOfFailedThings",
    "numberOfRejectedThings",
    "numberOfTimedOutThings",
    "numberOfCanceledThings",
    "numberOfRemovedThings",
)
# The device states each rollout the workflow watched is counted by: the ones its
# "Did every device take it" judges, and the devices a canceled job never reached.
DEVICE_OUTCOMES = {
    "succeeded": "Succeeded",
    "failed": "Failed",
    "rejected": "Rejected",
    "timedout": "TimedOut",
    "canceled": "Canceled",
}


class CompilationInProgressError(ConveyorError):
    """The Neo job is still running; the workflow looks again later."""


class CanaryInProgressError(ConveyorError):
    """The endpoint canary of this package has no outcome yet; the workflow looks again later."""


class RolloutInProgressError(ConveyorError):
    """The deployment's IoT job is still rolling out; the workflow looks again later."""


class Compilation(BaseModel):
    label: str
    status: Literal["COMPLETED", "FAILED", "STOPPED"]
    artifact: str | None = None
    reason: str | None = None


class CanaryOutcome(BaseModel):
    outcome: Literal["promoted", "rolled_back", "failed", "no_outcome"]
    reason: str


class Rollout(BaseModel):
    status: str
    finished: bool
    """False when the rollout was still under way at its deadline (``EdgeRolloutMinutes``)."""
    devices: dict[str, int]
    reason: str

    def device_outcomes(self) -> dict[str, int]:
        """The devices that took the model and those that did not, by how, named for the metrics."""
        return {name: self.devices.get(state, 0) for state, name in DEVICE_OUTCOMES.items()}


def compilation(settings: EdgeSettings, job_name: str, label: str, *, now: datetime) -> Compilation:
    """The job's end, or :class:`CompilationInProgressError`; past ``EdgeCompileMinutes`` it is stopped."""
    sagemaker = aws.client("sagemaker")
    job = sagemaker.describe_compilation_job(CompilationJobName=job_name)
    status = job["CompilationJobStatus"]
    if status == "COMPLETED":
        return Compilation(label=label, status="COMPLETED", artifact=job["ModelArtifacts"]["S3ModelArtifacts"])
    if status in {"FAILED", "STOPPED"}:
        reason = job.get("FailureReason") or f"the compilation job {job_name} was stopped"
        return Compilation(label=label, status=status, reason=reason)
    deadline = job["CreationTime"] + timedelta(minutes=settings.compile_minutes)
    if now < deadline:
        raise CompilationInProgressError(f"compilation job {job_name} is {status}")
    if status != "STOPPING":
        sagemaker.stop_compilation_job(CompilationJobName=job_name)
    minutes = settings.compile_minutes
    reason = f"the compilation job {job_name} did not finish within EdgeCompileMinutes ({minutes}); it was stopped"
    return Compilation(label=label, status="STOPPED", reason=reason)


def canary_outcome(settings: EdgeSettings, version: int, started: datetime, *, now: datetime) -> CanaryOutcome:
    """How the endpoint canary of package ``version`` ended, or :class:`CanaryInProgressError`."""
    record = get_canary(settings.state_table_name, version)
    state = record.state if record is not None else None
    if state == CanaryState.PROMOTED:
        return CanaryOutcome(outcome="promoted", reason="the endpoint canary promoted the model")
    if state == CanaryState.ROLLED_BACK:
        alarm = f" by alarm {record.alarm_name}" if record is not None and record.alarm_name else ""
        return CanaryOutcome(outcome="rolled_back", reason=f"the endpoint canary rolled the model back{alarm}")
    if state == CanaryState.FAILED:
        return CanaryOutcome(outcome="failed", reason="the endpoint canary failed before an outcome")
    if now < started + timedelta(minutes=settings.canary_wait_minutes):
        raise CanaryInProgressError(f"the canary of package {version} is {state or 'not started'}")
    return CanaryOutcome(
        outcome="no_outcome",
        reason=f"the endpoint canary had no outcome within EdgeCanaryWaitMinutes ({settings.canary_wait_minutes})",
    )


def rollout(settings: EdgeSettings, job_id: str, *, now: datetime) -> Rollout:
    """The deployment's IoT job once every device it targets has reported (or at ``EdgeRolloutMinutes``),
    or :class:`RolloutInProgressError`.

    A thing group's deployment runs a continuous job: it stays IN_PROGRESS for devices that join
    the group later, so the rollout has ended when it has reached every device (no processing
    targets left) and none is queued or in progress (COMPLETED), or when the abort criteria
    canceled the job (CANCELED).
    """
    job = aws.client("iot").describe_job(jobId=job_id)["job"]
    status = job["status"]
    details: dict[str, Any] = job.get("jobProcessDetails", {})
    devices = {_device_state(name): int(details.get(name, 0)) for name in DEVICE_COUNTS}
    # processingTargets is null once the staged rollout has reached every target.
    reported = devices["queued"] == devices["inprogress"] == 0 and not details.get("processingTargets")
    if status not in ROLLING_OUT:
        return Rollout(status=status, finished=True, devices=devices, reason=_reason(job))
    if reported:
        reason = "every device of the group has reported" if any(devices.values()) else "the group has no device"
        return Rollout(status="COMPLETED", finished=True, devices=devices, reason=reason)
    if now < job["createdAt"] + timedelta(minutes=settings.rollout_minutes):
        raise RolloutInProgressError(f"IoT job {job_id} is {status}: {devices}")
    reason = f"still rolling out after EdgeRolloutMinutes ({settings.rollout_minutes}); the deployment goes on"
    return Rollout(status=status, finished=False, devices=devices, reason=reason)


def _device_state(count: str) -> str:
    """``numberOfTimedOutThings`` is ``timedout``."""
    return count.removeprefix("numberOf").removesuffix("Things").lower()


def _reason(job: dict[str, Any]) -> str:
    return str(job.get("reasonCode") or job.get("comment") or "")
