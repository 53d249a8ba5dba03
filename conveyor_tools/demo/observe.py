"""What the demo reads back from the stack, as an operator would: executions, models, runs, the
endpoint's traffic and alarms, and the fleet's devices. Each reader returns plain JSON-ready data."""

from __future__ import annotations

import json
from typing import Any

from conveyor.state.ledger import Ledger
from conveyor_tools import stack
from localcloud.cloud import LocalCloud

WORKFLOWS = {
    "RetrainingStateMachineArn": "retraining",
    "EdgeReleaseStateMachineArn": "edge_release",
    "CanaryReleaseStateMachineArn": "canary_release",
}


def executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every execution of the stack's workflows, oldest first within each workflow."""
    found = []
    for output, workflow in WORKFLOWS.items():
        for execution in sorted(stack.executions(cloud, output), key=lambda e: e["startDate"]):
            found.append({"name": execution["name"], "workflow": workflow, "status": execution["status"]})
    return found


def execution_status(cloud: LocalCloud, workflow: str, name: str) -> str | None:
    output = next(o for o, w in WORKFLOWS.items() if w == workflow)
    return next((e["status"] for e in stack.executions(cloud, output) if e["name"] == name), None)


def models(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every registered model package with its objective metric, the champion's on the same rows, the
    floor and its decision, oldest first. The decision is the package's status now: a canary rolled
    back turns an approved package Rejected."""
    found = []
    for package in stack.model_packages(cloud, newest_first=False):
        report = stack.evaluation_report(cloud, package)
        objective = report["objective"]
        found.append(
            {
                "package": package["ModelPackageArn"],
                "version": package["ModelPackageVersion"],
                "run_id": report["run_id"],
                "metric": objective["name"],
                "value": round(objective["value"], 4),
                "champion_value": _rounded((report.get("champion") or {}).get("value")),
                "floor": float(cloud.parameters["MetricFloor"]),
                "decision": report.get("decision", package["ModelApprovalStatus"]),
                "status": package["ModelApprovalStatus"],
                "reasons": report["reasons"],
            }
        )
    return found


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def runs(cloud: LocalCloud) -> list[dict[str, Any]]:
    """What each retraining run was started with: its trigger, its new rows and its snapshot."""
    found = []
    for execution in sorted(stack.described_executions(cloud), key=lambda e: e["name"]):
        started = json.loads(execution["input"])
        snapshot = started["dataset"]
        found.append(
            {
                "run_id": started["run_id"],
                "trigger": started["trigger"],
                "new_rows": started["new_rows"],
                "rows": snapshot["rows"],
                "parts": snapshot["parts"],
                "drift": started.get("drift"),
            }
        )
    return found


def dataset(cloud: LocalCloud) -> dict[str, Any]:
    """The dataset as the ledger records it: the rows of each accepted input object."""
    ledger = Ledger(cloud.outputs["StateTableName"], dynamodb=cloud.client("dynamodb"))
    parts = sorted(
        (
            {"source": object_id.split("/", 1)[1].rsplit("#", 1)[0], "rows": rows}
            for object_id, rows in ledger.accepted_objects().items()
        ),
        key=lambda p: (p["source"], p["rows"]),
    )
    return {"parts": parts, "rows": sum(part["rows"] for part in parts)}


def weights(cloud: LocalCloud) -> dict[str, float]:
    """Each variant's share of the endpoint's traffic."""
    endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName=cloud.outputs["EndpointName"])
    variants = endpoint["ProductionVariants"]
    total = sum(v["CurrentWeight"] for v in variants) or 1.0
    return {v["VariantName"]: round(v["CurrentWeight"] / total, 3) for v in variants}


def alarm_state(cloud: LocalCloud, names: list[str]) -> str:
    """ALARM if any of the canary's alarms is, else OK if any is, else INSUFFICIENT_DATA."""
    if not names:
        return "INSUFFICIENT_DATA"
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    states = {alarm["StateValue"] for alarm in alarms}
    return next((state for state in ("ALARM", "OK") if state in states), "INSUFFICIENT_DATA")


def device_states(cloud: LocalCloud, component: str) -> dict[str, dict[str, int]]:
    """For each version of ``component`` on the fleet, its devices per lifecycle state ("NONE": not on it)."""
    greengrass = cloud.client("greengrassv2")
    found: dict[str, dict[str, int]] = {}
    for thing in cloud.fleet.devices:
        listed = greengrass.list_installed_components(coreDeviceThingName=thing)["installedComponents"]
        mine = [c for c in listed if c["componentName"] == component]
        version, state = (mine[0]["componentVersion"], mine[0]["lifecycleState"]) if mine else ("none", "NONE")
        counts = found.setdefault(version, {})
        counts[state] = counts.get(state, 0) + 1
    return found


class Announcements:
    """What the stack announces on the default event bus (source ``conveyor``), caught in a queue of
    the demo's own, as any consumer of the events would catch them."""

    def __init__(self, cloud: LocalCloud, name: str = "conveyor-demo-announcements") -> None:
        self.cloud = cloud
        self.seen: list[dict[str, Any]] = []
        sqs = cloud.client("sqs")
        self.queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = cloud.client("events")
        rule = events.put_rule(Name=name, EventPattern=json.dumps({"source": ["conveyor"]}))
        allow = {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule["RuleArn"]}},
        }
        policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": policy})
        events.put_targets(Rule=name, Targets=[{"Id": "demo", "Arn": arn}])

    def of(self, version: int, *kinds: str) -> list[dict[str, Any]]:
        """The details of the announcements of ``kinds`` about model package ``version``, oldest first."""
        self.seen += stack.messages(self.cloud, self.queue_url)
        return [
            event["detail"]
            for event in self.seen
            if event["detail-type"] in kinds and event["detail"].get("model_package_version") == version
        ]
