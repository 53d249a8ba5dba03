"""Starting releases from the Model Registry: one way in, whoever approved the package.

The registry's "SageMaker Model Package State Change" event for the stack's group starts both
release workflows when a package becomes Approved, whether the gate approved it (``ApprovalMode``
automatic) or a person did (``conveyor approve``, the console, the CLI or the API). Each workflow's
execution is named by the package version, and :mod:`conveyor.state.releases` records the release,
so an event delivered again starts and announces nothing twice.

- An approval while releases are frozen starts nothing: the package goes back to
  PendingManualApproval, "Release Refused" says why, and an operator approves it again once the
  freeze is lifted.
- An approval whose package is no longer Approved when the event arrives (rejected since) starts
  nothing.
- A package rejected after its release started is announced once ("Release Withdrawn"), with what
  each workflow had done: a running workflow checks the package before each irreversible step and
  stops there; a finished one had released it already.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.events import ModelPackageStateChange
from conveyor.settings import Settings
from conveyor.state.canary import CanaryState, get_canary
from conveyor.state.control import freeze_state
from conveyor.state.releases import Claim, claim_release, complete_release, refuse_release, withdraw_release

# Longer than the function's timeout (30 s), shorter than Lambda's first retry of a failed event
# (about a minute): a claim this old belongs to an attempt that crashed, and the retry takes it over.
CLAIM_TIMEOUT = timedelta(seconds=45)
WORKFLOWS = ("edge_release", "canary_release")


class ReleaseStartingError(ConveyorError):
    """Another attempt is starting this release; the event is retried."""


class StartReleaseSettings(Settings):
    model_package_group_name: str
    edge_release_state_machine_arn: str
    canary_release_state_machine_arn: str
    notification_topic_arn: str

    def state_machine_arn(self, workflow: str) -> str:
        return str(getattr(self, f"{workflow}_state_machine_arn"))


class Outcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    NOT_APPROVED = "not_approved"
    WITHDRAWN = "withdrawn"
    IGNORED = "ignored"


class ReleaseReport(BaseModel):
    outcome: Outcome
    version: int
    package_arn: str
    executions: list[str] = []
    reason: str = ""


def execution_name(version: int) -> str:
    """The name of both release workflows' executions for package ``version``."""
    return f"package-{version}"


def execution_arn(state_machine_arn: str, version: int) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution_name(version)}"


def handle(settings: StartReleaseSettings, change: ModelPackageStateChange, *, now: datetime) -> ReleaseReport:
    """Start, refuse or withdraw the release of the package the event is about."""
    detail = change.detail
    if detail.model_package_group_name != settings.model_package_group_name:
        return ReleaseReport(
            outcome=Outcome.IGNORED,
            version=detail.model_package_version,
            package_arn=detail.model_package_arn,
            reason=f"package of group {detail.model_package_group_name}, not {settings.model_package_group_name}",
        )
    if detail.model_approval_status == "Approved":
        return _start(settings, change, now)
    return _withdraw(settings, change, now)


def _start(settings: StartReleaseSettings, change: ModelPackageStateChange, now: datetime) -> ReleaseReport:
    version, arn = change.detail.model_package_version, change.detail.model_package_arn
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        reason = f"package {version} is {status} now; the approval event is out of date"
        return ReleaseReport(outcome=Outcome.NOT_APPROVED, version=version, package_arn=arn, reason=reason)
    freeze = freeze_state(settings.state_table_name)
    if freeze.frozen:
        reason = (
            f"releases are frozen by security finding(s) {', '.join(freeze.finding_ids) or freeze.finding_id}; "
            f"once they are acknowledged, approve package {version} again to release it"
        )
        if refuse_release(
            settings.state_table_name, version=version, package_arn=arn, event_id=change.id, reason=reason, now=now
        ):
            # Back to waiting, so that the registry never shows Approved for a model that was not
            # released, and approving it again (a real status change) releases it.
            aws.client("sagemaker").update_model_package(
                ModelPackageArn=arn,
                ModelApprovalStatus="PendingManualApproval",
                ApprovalDescription=f"Release refused: {reason}"[:1024],
            )
            _announce(settings, "Release Refused", version, arn, reason=reason)
            _notify(settings, f"release of package {version} refused", f"Package {arn} was approved, but {reason}.")
            return ReleaseReport(outcome=Outcome.REFUSED, version=version, package_arn=arn, reason=reason)
        return ReleaseReport(outcome=Outcome.DUPLICATE, version=version, package_arn=arn, reason=reason)
    claim = claim_release(
        settings.state_table_name, version=version, package_arn=arn, event_id=change.id, now=now, timeout=CLAIM_TIMEOUT
    )
    if claim in (Claim.STARTED, Claim.REFUSED):
        reason = "already started" if claim == Claim.STARTED else "this approval was refused already"
        return ReleaseReport(outcome=Outcome.DUPLICATE, version=version, package_arn=arn, reason=reason)
    if claim == Claim.BUSY:
        # Fail, so that Lambda retries this event: by then the other attempt has finished, or its
        # claim is old enough to take over (it crashed).
        raise ReleaseStartingError(f"another attempt is starting the release of package {version}; retry later")
    release_input = {
        "model_package_arn": arn,
        "model_package_version": version,
        "model_data_url": package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
        "approval_description": package.get("ApprovalDescription", ""),
    }
    executions = [
        _start_workflow(settings.state_machine_arn(workflow), version, release_input) for workflow in WORKFLOWS
    ]
    complete_release(settings.state_table_name, version, executions=executions, now=now)
    _announce(
        settings, "Release Started", version, arn, executions=executions, approval=release_input["approval_description"]
    )
    return ReleaseReport(outcome=Outcome.STARTED, version=version, package_arn=arn, executions=executions)


def _start_workflow(state_machine_arn: str, version: int, release_input: dict[str, Any]) -> str:
    """Start the workflow's execution for ``version``, or find the one an earlier attempt started."""
    sfn = aws.client("stepfunctions")
    try:
        return str(
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=execution_name(version), input=json.dumps(release_input)
            )["executionArn"]
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return execution_arn(state_machine_arn, version)


def _withdraw(settings: StartReleaseSettings, change: ModelPackageStateChange, now: datetime) -> ReleaseReport:
    version, arn = change.detail.model_package_version, change.detail.model_package_arn
    canary = get_canary(settings.state_table_name, version)
    if canary is not None and canary.state in (CanaryState.ROLLING_BACK, CanaryState.ROLLED_BACK):
        reason = f"package {version} was rejected by its own canary's rollback, which announced it"
        return ReleaseReport(outcome=Outcome.IGNORED, version=version, package_arn=arn, reason=reason)
    record = withdraw_release(settings.state_table_name, version, now=now)
    if record is None:
        reason = f"package {version} is {change.detail.model_approval_status}; no release of it started"
        return ReleaseReport(outcome=Outcome.IGNORED, version=version, package_arn=arn, reason=reason)
    sfn = aws.client("stepfunctions")
    progress = {}
    for workflow in WORKFLOWS:
        execution = execution_arn(settings.state_machine_arn(workflow), version)
        try:
            status = sfn.describe_execution(executionArn=execution)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            status = "NOT_STARTED"  # the attempt that claimed the release crashed before starting it
        progress[workflow] = {"execution": execution, "status": status, "note": _withdrawal_note(status)}
    reason = f"package {version} was rejected after its release started"
    _announce(settings, "Release Withdrawn", version, arn, reason=reason, workflows=progress)
    lines = [f"{workflow}: {step['status']}: {step['note']}" for workflow, step in progress.items()]
    _notify(settings, f"release of package {version} withdrawn", f"Package {arn}: {reason}.\n" + "\n".join(lines))
    return ReleaseReport(
        outcome=Outcome.WITHDRAWN,
        version=version,
        package_arn=arn,
        executions=[step["execution"] for step in progress.values()],
        reason=reason,
    )


def _withdrawal_note(status: str) -> str:
    if status == "RUNNING":
        return "stops before its next irreversible step"
    if status == "SUCCEEDED":
        return "had finished: what it released stays released until the next release replaces it"
    if status == "NOT_STARTED":
        return "never started"
    return "had already ended without releasing"


def _announce(settings: StartReleaseSettings, detail_type: str, version: int, arn: str, **detail: Any) -> None:
    aws.client("events").put_events(
        Entries=[
            {
                "Source": "conveyor",
                "DetailType": detail_type,
                "EventBusName": "default",
                "Detail": json.dumps({"model_package_arn": arn, "model_package_version": version, **detail}),
            }
        ]
    )


def _notify(settings: StartReleaseSettings, what: str, message: str) -> None:
    aws.client("sns").publish(
        TopicArn=settings.notification_topic_arn,
        Subject=f"{settings.project_name} {settings.stage}: {what}"[:100],
        Message=message,
    )
