"""Findings in AWS Security Finding Format (ASFF), for Security Hub's BatchImportFindings.

The ASFF ``Id`` is the stack's name and the finding's id (the CloudTrail eventID), so importing
the same finding again updates it instead of adding a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stack_facts import ResponderSettings
from tampering import Finding

SCHEMA_VERSION = "2018-10-08"
TITLE_LENGTH = 256
DESCRIPTION_LENGTH = 1024
TEXT_LENGTH = 512


def product_arn(settings: ResponderSettings) -> str:
    """The account's default product: findings a customer imports about its own resources."""
    return (
        f"arn:{settings.partition}:securityhub:{settings.region}:{settings.account_id}:"
        f"product/{settings.account_id}/default"
    )


def finding_type(finding: Finding) -> str:
    if finding.kind == "insight":
        return "Unusual Behaviors/User/CloudTrail Insights"
    return f"TTPs/Defense Evasion/{finding.kind}"


def asff(finding: Finding, settings: ResponderSettings, *, manual_steps: list[str], now: datetime) -> dict[str, Any]:
    """The finding as one ASFF record."""
    recommendation = "; ".join(manual_steps) or "Check the change and acknowledge the finding."
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"{settings.project_name}/{settings.stage}/{finding.finding_id}",
        "ProductArn": product_arn(settings),
        "GeneratorId": f"{settings.project_name}-{settings.stage}-security-responder/{finding.kind}",
        "AwsAccountId": settings.account_id,
        "Types": [finding_type(finding)],
        "FirstObservedAt": finding.event_time.isoformat(),
        "CreatedAt": finding.event_time.isoformat(),
        "UpdatedAt": now.isoformat(),
        "Severity": {"Label": finding.severity},
        "Title": finding.title[:TITLE_LENGTH],
        "Description": f"{finding.actor.description} {finding.what}."[:DESCRIPTION_LENGTH],
        "Resources": [
            {
                "Type": finding.resource_type,
                "Id": finding.resource_id,
                "Partition": settings.partition,
                "Region": finding.region,
            }
        ],
        "Remediation": {"Recommendation": {"Text": recommendation[:TEXT_LENGTH]}},
        "ProductFields": {
            "conveyor/EventSource": finding.event_source,
            "conveyor/EventName": finding.event_name,
            "conveyor/Principal": finding.actor.arn,
            "conveyor/Succeeded": str(finding.succeeded).lower(),
        },
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }
