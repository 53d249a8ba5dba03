"""What a stack is doing, at a glance: what ``conveyor status`` reads.

Everything comes from the stack's outputs and the records its flows keep, as an operator's
credentials read them: each workflow's executions, the champion pointer and its evaluation
report, the canary record and the endpoint's weights, the newest edge release, and the freeze
with the findings holding it. Nothing is written. A stack where nothing has happened yet reads
as empty sections, not as errors, so the command is the first thing to run after a deploy.

The edge release keeps no item in the state table: the execution is its record. Its state
document (what each state added: the plan, the publication, the rollout) is read from the
execution history, so a release still running shows what it has done so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from conveyor.state.canary import CanaryRecord, endpoint_holder, get_canary, latest_canary
from conveyor.state.champion import ChampionPointer, current_champion
from conveyor.state.control import Freeze, freeze_state
from conveyor.state.findings import get_finding
from conveyor_tools.stack import Stack, evaluation_report

WORKFLOWS = {
    "retraining": "RetrainingStateMachineArn",
    "canary_release": "CanaryReleaseStateMachineArn",
    "edge_release": "EdgeReleaseStateMachineArn",
}
"""Each workflow, by the name of its ASL file, and the output naming its state machine."""
DEFAULT_LIMIT = 5


class ExecutionSummary(BaseModel):
    name: str
    status: str
    started_at: datetime
    stopped_at: datetime | None = None


class Objective(BaseModel):
    """The gate's measure of the model, from its evaluation report."""

    name: str
    value: float
    measured_on: str | None = None
    """``test`` (the run's held-out rows) or ``validation`` (training's own value, when no test rows)."""


class ChampionStatus(ChampionPointer):
    """The champion pointer, with what its evaluation report says of the model."""

    objective: Objective | None
    """None for a report written before the gate recorded its measure."""
    metrics: dict[str, float]
    """What its training job reported (``validation:auc``...)."""


class CanaryStatus(BaseModel):
    """The canary record (without its task token: a capability, not a status) and the endpoint's weights."""

    version: int
    package_arn: str
    state: str
    state_changed_at: datetime
    reason: str | None = None
    alarm_name: str | None = None
    holds_endpoint: bool
    endpoint_name: str
    endpoint_status: str | None
    """None when the endpoint does not exist (its first release failed, or it was deleted)."""
    weights: dict[str, float]
    """Each production variant's current weight, relative to the others'."""


class Rollout(BaseModel):
    """The fleet's rollout as the edge release last saw its IoT job (the edge controller's ``Rollout``)."""

    status: str
    finished: bool = True
    devices: dict[str, int] = {}
    reason: str = ""


class EdgeStatus(BaseModel):
    """The newest edge release: where it is, and what its states recorded."""

    execution: str
    status: str
    started_at: datetime
    state: str | None
    """The state it is in (running) or ended in, e.g. ``Watch the rollout`` or ``Edge release off``."""
    enabled: bool | None = None
    plan_reason: str | None = None
    component_version: str | None = None
    iot_job_id: str | None = None
    compiled_targets: list[str] = []
    failed_targets: list[str] = []
    rollout: Rollout | None = None
    error: str | None = None
    cause: str | None = None


class FindingSummary(BaseModel):
    """A finding that holds the freeze, as the alert named it."""

    finding_id: str
    title: str = ""
    event_name: str = ""
    resource: str = ""
    principal: str = ""
    event_time: datetime | None = None


class FreezeStatus(Freeze):
    """The freeze item, with the findings that hold it."""

    findings: list[FindingSummary] = Field(default_factory=list)


class StackStatus(BaseModel):
    """``conveyor status --json``: one document, these keys."""

    executions: dict[str, list[ExecutionSummary]]
    champion: ChampionStatus | None
    canary: CanaryStatus | None
    edge: EdgeStatus | None
    freeze: FreezeStatus


def read_status(stack: Stack, limit: int = DEFAULT_LIMIT) -> StackStatus:
    """Everything ``conveyor status`` shows, read once."""
    executions = {workflow: recent_executions(stack, output, limit) for workflow, output in WORKFLOWS.items()}
    return StackStatus(
        executions=executions,
        champion=champion_status(stack),
        canary=canary_status(stack),
        edge=edge_status(stack),
        freeze=freeze_status(stack),
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def recent_executions(stack: Stack, output: str, limit: int) -> list[ExecutionSummary]:
    """The workflow's ``limit`` newest executions, and any older one still running, newest first."""
    sfn = stack.client("stepfunctions")
    arn = stack.outputs[output]
    newest = sfn.list_executions(stateMachineArn=arn, maxResults=limit)["executions"][:limit]
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
    running = [execution for page in pages for execution in page["executions"]]
    by_arn = {execution["executionArn"]: execution for execution in [*newest, *running]}
    return [
        ExecutionSummary(
            name=execution["name"],
            status=execution["status"],
            started_at=_utc(execution["startDate"]),
            stopped_at=_utc(execution["stopDate"]) if execution.get("stopDate") else None,
        )
        for execution in sorted(by_arn.values(), key=lambda execution: execution["startDate"], reverse=True)
    ]


def champion_status(stack: Stack) -> ChampionStatus | None:
    """The model in service and its evaluation report's measure; None before the first release."""
    pointer = current_champion(stack.outputs["StateTableName"], stack.client("dynamodb"))
    if pointer is None:
        return None
    package = stack.client("sagemaker").describe_model_package(ModelPackageName=pointer.package_arn)
    report = evaluation_report(stack, package)
    objective = report.get("objective")
    return ChampionStatus(
        **pointer.model_dump(),
        objective=Objective.model_validate(objective) if objective else None,
        metrics=report.get("metrics", {}),
    )


def canary_status(stack: Stack) -> CanaryStatus | None:
    """The canary holding the endpoint, else the newest one; None if no package reached the endpoint."""
    table, dynamodb = stack.outputs["StateTableName"], stack.client("dynamodb")
    holder = endpoint_holder(table, dynamodb)
    record = get_canary(table, holder, dynamodb) if holder is not None else latest_canary(table, dynamodb)
    if record is None:
        return None
    endpoint = _endpoint(stack, record)
    variants = endpoint.get("ProductionVariants", []) if endpoint else []
    return CanaryStatus(
        **record.model_dump(include={"version", "package_arn", "state", "state_changed_at", "reason", "alarm_name"}),
        holds_endpoint=holder == record.version,
        endpoint_name=record.endpoint_name,
        endpoint_status=endpoint["EndpointStatus"] if endpoint else None,
        weights={variant["VariantName"]: float(variant.get("CurrentWeight", 0.0)) for variant in variants},
    )


def _endpoint(stack: Stack, record: CanaryRecord) -> dict[str, Any] | None:
    sagemaker = stack.client("sagemaker")
    try:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=record.endpoint_name)
    except sagemaker.exceptions.ClientError as error:
        # SageMaker answers a missing endpoint with a ValidationException ("Could not find endpoint").
        if error.response["Error"]["Code"] != "ValidationException":
            raise
        return None
    return described


def edge_status(stack: Stack) -> EdgeStatus | None:
    """The newest edge release, from its execution and history; None before the first release."""
    sfn = stack.client("stepfunctions")
    newest = sfn.list_executions(stateMachineArn=stack.outputs[WORKFLOWS["edge_release"]], maxResults=1)
    if not newest["executions"]:
        return None
    execution = newest["executions"][0]
    state, document, failure = _last_state(sfn, execution["executionArn"])
    plan = document.get("plan", {}).get("value", {})
    publication = document.get("publication", {}).get("value", {})
    rollout = document.get("rollout", {}).get("value")
    return EdgeStatus(
        execution=execution["name"],
        status=execution["status"],
        started_at=_utc(execution["startDate"]),
        state=state,
        enabled=plan.get("enabled"),
        plan_reason=plan.get("reason") or None,
        component_version=publication.get("component_version"),
        iot_job_id=publication.get("iot_job_id"),
        compiled_targets=publication.get("compiled_targets", []),
        failed_targets=[target["label"] for target in publication.get("failed_targets", [])],
        rollout=Rollout.model_validate(rollout) if rollout and "status" in rollout else None,
        error=failure.get("error"),
        cause=failure.get("cause"),
    )


def _newest_events(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    """The execution's history, newest event first, a page at a time (a long rollout has many)."""
    arguments: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 100}
    while True:
        page = sfn.get_execution_history(**arguments)
        # Ordered by id, not trusted to the request: some emulators ignore reverseOrder.
        yield from sorted(page["events"], key=lambda event: event["id"], reverse=True)
        if not page.get("nextToken"):
            return
        arguments["nextToken"] = page["nextToken"]


def _last_state(sfn: Any, execution_arn: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """The state last entered, the state document the last state left, and the failure, if any."""
    state: str | None = None
    document: dict[str, Any] | None = None
    failure: dict[str, Any] = {}
    for event in _newest_events(sfn, execution_arn):
        failure = failure or event.get("executionFailedEventDetails", {})
        if state is None and "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        if document is None and "output" in event.get("stateExitedEventDetails", {}):
            document = _parsed(event["stateExitedEventDetails"]["output"])
        if state is not None and document is not None:
            break
    return state, document or {}, failure


def _parsed(output: str) -> dict[str, Any]:
    """A state's output; empty if the history truncated it (over 256 KiB) or it is not an object."""
    try:
        parsed = json.loads(output)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def freeze_status(stack: Stack) -> FreezeStatus:
    """The freeze, with each finding that holds it (a stack never frozen reads as not frozen)."""
    table, dynamodb = stack.outputs["StateTableName"], stack.client("dynamodb")
    freeze = freeze_state(table, dynamodb)
    findings = []
    for finding_id in freeze.finding_ids:
        record = get_finding(table, finding_id, dynamodb)
        fields = record.model_dump(include=set(FindingSummary.model_fields)) if record else {}
        findings.append(FindingSummary.model_validate({"finding_id": finding_id} | fields))
    return FreezeStatus(**freeze.model_dump(), findings=findings)
