"""``conveyor status`` for a person: one section per part of the stack, newest first, times in UTC.

Each section says "none yet" rather than nothing, so a fresh stack reads as fresh, not broken; a
frozen stack names what holds the freeze and the command that lifts it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor_tools.status import (
    WORKFLOWS,
    CanaryStatus,
    ChampionStatus,
    EdgeStatus,
    ExecutionSummary,
    FreezeStatus,
    StackStatus,
)

INDENT = "  "


def render(status: StackStatus, *, stack_name: str, limit: int) -> list[str]:
    """The lines ``conveyor status`` prints."""
    return [
        f"Stack {stack_name}",
        "",
        *_executions(status.executions, limit),
        "",
        "Champion",
        *_indented(_champion(status.champion)),
        "",
        "Canary",
        *_indented(_canary(status.canary)),
        "",
        "Edge",
        *_indented(_edge(status.edge)),
        "",
        "Freeze",
        *_indented(_freeze(status.freeze)),
    ]


def _indented(lines: list[str], depth: int = 1) -> list[str]:
    return [INDENT * depth + line for line in lines]


def _time(moment: datetime | None) -> str:
    return "?" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _executions(executions: dict[str, list[ExecutionSummary]], limit: int) -> list[str]:
    lines = [f"Executions (newest first: the last {limit} of each workflow, and any older one still running)"]
    for workflow in WORKFLOWS:
        listed = executions.get(workflow, [])
        lines.append(INDENT + workflow.replace("_", " "))
        width = max((len(execution.name) for execution in listed), default=0)
        rows = [
            f"{execution.name:<{width}}  {execution.status:<9}  started {_time(execution.started_at)}"
            + (f", ended {_time(execution.stopped_at)}" if execution.stopped_at else "")
            for execution in listed
        ]
        lines += _indented(rows or ["none yet"], 2)
    return lines


def _champion(champion: ChampionStatus | None) -> list[str]:
    if champion is None:
        return ["none yet: no model has been released"]
    lines = [f"package {champion.version}, in service since {_time(champion.promoted_at)}"]
    if champion.objective is not None:
        on = f", measured on the {champion.objective.measured_on} rows" if champion.objective.measured_on else ""
        lines.append(f"{champion.objective.name} {champion.objective.value:.4f}{on}")
    elif champion.metrics:
        lines.append(", ".join(f"{name} {value:.4f}" for name, value in sorted(champion.metrics.items())))
    return [*lines, champion.package_arn]


def _canary(canary: CanaryStatus | None) -> list[str]:
    if canary is None:
        return ["none yet: no package has reached the endpoint"]
    holds = f", holds the endpoint {canary.endpoint_name}" if canary.holds_endpoint else ""
    lines = [f"package {canary.version} {canary.state} since {_time(canary.state_changed_at)}{holds}"]
    if canary.reason:
        alarm = f" (alarm {canary.alarm_name})" if canary.alarm_name else ""
        lines.append(f"why: {canary.reason}{alarm}")
    if canary.endpoint_status is None:
        lines.append(f"endpoint {canary.endpoint_name}: does not exist")
    else:
        total = sum(canary.weights.values()) or 1.0
        shares = ", ".join(f"{name} {100 * weight / total:.0f} %" for name, weight in sorted(canary.weights.items()))
        lines.append(f"endpoint {canary.endpoint_name} {canary.endpoint_status}: {shares or 'no variant'}")
    return lines


def _edge(edge: EdgeStatus | None) -> list[str]:
    if edge is None:
        return ["none yet: no package has been released to the fleet"]
    where = "in" if edge.status == "RUNNING" else "ended in"
    lines = [f'{edge.execution} {edge.status}, started {_time(edge.started_at)}, {where} "{edge.state or "?"}"']
    if edge.enabled is False and edge.plan_reason:
        lines.append(edge.plan_reason)
    if edge.component_version:
        lines.append(f"component version {edge.component_version}, IoT job {edge.iot_job_id}")
    if edge.compiled_targets or edge.failed_targets:
        failed = f"; failed: {', '.join(edge.failed_targets)}" if edge.failed_targets else ""
        lines.append(f"compiled for: {', '.join(edge.compiled_targets) or 'none'}{failed}")
    if edge.rollout is not None:
        devices = ", ".join(f"{state} {count}" for state, count in sorted(edge.rollout.devices.items()) if count)
        reason = f": {edge.rollout.reason}" if edge.rollout.reason else ""
        lines.append(f"rollout {edge.rollout.status} ({devices or 'no device'}){reason}")
    if edge.error:
        lines.append(f"{edge.error}: {edge.cause or ''}".rstrip(": "))
    return lines


def _freeze(freeze: FreezeStatus) -> list[str]:
    if not freeze.frozen:
        if freeze.lifted_at is None:
            return ["not frozen"]
        return [f"not frozen: lifted {_time(freeze.lifted_at)} by {freeze.lifted_by}: {freeze.lift_reason}"]
    # For a finding, who is whoever made the call it found; for a freeze by hand, the operator.
    lines = [
        f"FROZEN since {_time(freeze.frozen_at)}",
        f"{INDENT}why: {freeze.reason}",
        f"{INDENT}who: {freeze.principal}",
    ]
    if not freeze.findings:
        return [*lines, f"{INDENT}frozen by hand: `conveyor unfreeze --reason TEXT` lifts it"]
    lines.append(f"{INDENT}held by these findings; acknowledge each: `conveyor unfreeze --finding ID --reason TEXT`")
    for finding in freeze.findings:
        by = f"by {finding.principal or '?'} at {_time(finding.event_time)}"
        lines.append(f"{INDENT * 2}{finding.finding_id}  {finding.event_name or '?'} {by}")
        if finding.title:
            lines.append(f"{INDENT * 3}{finding.title}")
    return lines
