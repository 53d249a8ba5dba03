"""The alert a human reads: what happened, to what, by whom, from where, what was undone, what is
left to do, and how to lift the freeze.
"""

from __future__ import annotations

import json
import re
import shlex

from stack_facts import ResponderSettings
from tampering import Finding

# SNS subjects: at most 100 printable ASCII characters, no line breaks.
SUBJECT_LENGTH = 100
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def subject(finding: Finding, settings: ResponderSettings) -> str:
    text = f"{settings.project_name} {settings.stage} {finding.severity}: {finding.title}"
    text = _NOT_PRINTABLE.sub("?", text)
    return text if len(text) <= SUBJECT_LENGTH else text[: SUBJECT_LENGTH - 3] + "..."


def unfreeze_command(finding_id: str, function_name: str | None, region: str) -> str:
    """The call that acknowledges ``finding_id`` (and lifts the freeze once none is left)."""
    payload = {"finding_id": finding_id, "reason": "<what you found and why releasing is safe>", "lifted_by": "<you>"}
    name = function_name or "<the stack's UnfreezeFunction>"
    return (
        f"aws lambda invoke --function-name {shlex.quote(name)} --cli-binary-format raw-in-base64-out "
        f"--payload {shlex.quote(json.dumps(payload))} --region {region} unfreeze.json"
    )


def _freeze_lines(finding: Finding, frozen: bool, settings: ResponderSettings, function_name: str | None) -> list[str]:
    if not frozen:
        why = "the call failed" if not finding.succeeded else "an Insights event is a reason to look, not tampering"
        return [f"Releases: not frozen by this finding ({why})."]
    return [
        "Releases: FROZEN. No model is released until every finding that froze releases is acknowledged.",
        "Once you have looked and it is safe, acknowledge this finding:",
        f"  {unfreeze_command(finding.finding_id, function_name, settings.region)}",
    ]


def message(
    finding: Finding,
    settings: ResponderSettings,
    *,
    remediated: list[str],
    manual_steps: list[str],
    frozen: bool,
    unfreeze_function_name: str | None = None,
) -> str:
    """The alert's text."""
    actor = finding.actor
    outcome = "succeeded" if finding.succeeded else f"failed ({finding.error_code})"
    where = actor.source_ip_address or "unknown address"
    agent = f', user agent "{actor.user_agent}"' if actor.user_agent else ""
    lines = [
        f"Security finding {finding.finding_id} ({finding.severity}) on {settings.project_name} {settings.stage}",
        "",
        f"What happened: {finding.what}.",
        f"The call: {finding.event_source} {finding.event_name} at {finding.event_time.isoformat()} "
        f"in {finding.region}, which {outcome}.",
        f"To what: {finding.resource_type} {finding.resource_id}",
        f"By whom: {actor.description}",
        f"From where: {where}{agent}",
        "",
        "Undone by the responder:",
        *([f"  - {step}" for step in remediated] or ["  - nothing"]),
        "Left to do by hand:",
        *([f"  - {step}" for step in manual_steps] or ["  - nothing"]),
        "",
        *_freeze_lines(finding, frozen, settings, unfreeze_function_name),
    ]
    return "\n".join(lines)
