"""Approving and rejecting model packages by hand: what ``conveyor approve`` and ``conveyor reject`` do.

A decision sets the package's ModelApprovalStatus and records who decided and why in its
ApprovalDescription ("Approved by <caller ARN>: <reason>"). The registry then reports the change,
and an approval starts the release (the start_release function); nothing here starts one.
"""

from __future__ import annotations

from typing import Any, Literal

from conveyor_tools.stack import Stack, caller_arn

Decision = Literal["Approved", "Rejected"]
# From which statuses a person may take each decision. A package the gate rejected stays rejected:
# approving it anyway is a decision for the SageMaker API, not for this tool.
ALLOWED_FROM: dict[Decision, set[str]] = {
    "Approved": {"PendingManualApproval"},
    "Rejected": {"PendingManualApproval", "Approved"},
}
DESCRIPTION_LIMIT = 1024


class ApprovalError(Exception):
    """The package cannot take this decision (named, with its status and what to do)."""


def package_arn(stack: Stack, package: str) -> str:
    """The ARN of ``package``: an ARN, or a version number of the stack's model package group."""
    if package.startswith("arn:"):
        return package
    if not package.isdigit():
        raise ApprovalError(f"package {package!r} is neither a model package ARN nor a version number")
    group = stack.outputs["ModelPackageGroupName"]
    sts = stack.client("sts").get_caller_identity()
    region = stack.client("sagemaker").meta.region_name
    partition = sts["Arn"].split(":")[1]
    return f"arn:{partition}:sagemaker:{region}:{sts['Account']}:model-package/{group}/{int(package)}"


def decide(stack: Stack, package: str, decision: Decision, reason: str) -> dict[str, Any]:
    """Approve or reject ``package`` with ``reason``; return its ARN, statuses and description."""
    if not reason.strip():
        raise ApprovalError("a reason is required: it is recorded in the package's ApprovalDescription")
    arn = package_arn(stack, package)
    sagemaker = stack.client("sagemaker")
    try:
        current = sagemaker.describe_model_package(ModelPackageName=arn)
    except sagemaker.exceptions.ClientError as error:
        raise ApprovalError(f"package {arn}: {error.response['Error']['Message']}") from error
    if current.get("ModelPackageGroupName") != stack.outputs["ModelPackageGroupName"]:
        raise ApprovalError(
            f"package {arn} belongs to group {current.get('ModelPackageGroupName')}, "
            f"not this stack's {stack.outputs['ModelPackageGroupName']}"
        )
    status = current.get("ModelApprovalStatus")
    if status not in ALLOWED_FROM[decision]:
        raise ApprovalError(
            f"package {arn} is {status}; it can be {decision.lower()} only from "
            f"{' or '.join(sorted(ALLOWED_FROM[decision]))}"
        )
    who = caller_arn(stack)
    description = f"{decision} by {who}: {reason.strip()}"[:DESCRIPTION_LIMIT]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=decision, ApprovalDescription=description)
    return {
        "model_package_arn": arn,
        "previous_status": status,
        "status": decision,
        "approval_description": description,
    }
