"""The demo: the whole loop of what exists so far, on the local cloud, with progress on the terminal."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from conveyor.schema import load_schema
from conveyor.state.control import freeze_state
from conveyor.state.findings import list_findings
from conveyor.state.ledger import Ledger
from conveyor_tools import stack
from conveyor_tools.synthetic import csv_text, records
from localcloud.cloud import LocalCloud
from localcloud.delivery import AtLeastOnce

PARAMETERS = {"MinNewRows": "3000", "RetrainSchedule": "rate(1 hour)", "NumRound": "100"}
SCHEMA = load_schema("predictive_maintenance")


class DemoFailedError(Exception):
    """A step of the demo did not end as described."""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def detail(message: str) -> None:
    print(f"    {message}", flush=True)


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise DemoFailedError(failure)


def check_health(cloud: LocalCloud) -> dict[str, Any]:
    say("Invoking the health function through the Lambda API")
    response = cloud.client("lambda").invoke(FunctionName=cloud.outputs["HealthFunctionName"])
    health: dict[str, Any] = json.loads(response["Payload"].read())
    expect("FunctionError" not in response and health.get("version") == cloud.outputs["Version"], f"health: {health}")
    detail(f"stack version {health['version']}, stage {health['stage']}: {health['status']}")
    return health


def stream_records(cloud: LocalCloud) -> None:
    say("Streaming 150 sensor records through Firehose (3 of them bad, 2 heartbeats)")
    good = [json.dumps(r) for r in records(150, seed=1)[:145]]
    bad = ['{"failure_within_horizon": 1}', "not json at all", json.dumps({**records(1)[0], "torque_nm": 900})]
    heartbeats = ['{"heartbeat": true}'] * 2
    cloud.client("firehose").put_record_batch(
        DeliveryStreamName=cloud.outputs["IngestStreamName"],
        Records=[{"Data": r.encode()} for r in good + bad + heartbeats],
    )
    cloud.deliveries.settle()
    bucket = cloud.outputs["DataBucketName"]
    listed = stack.keys(cloud, "errors/stream/reasons/")
    expect(len(listed) == 1, f"expected one rejection report, found {listed}")
    detail(
        f"145 rows reached the dataset; 2 heartbeats dropped; 3 records rejected, reasons in s3://{bucket}/{listed[0]}"
    )
    for record in stack.read_json(cloud, listed[0])["records"]:
        raw = base64.b64decode(record["data"]).decode(errors="replace")[:40]
        detail(f"  {raw!r}: {record['reason']['message']} (rule {record['reason']['rule']})")


def upload_files(cloud: LocalCloud) -> None:
    say("Uploading three CSV files under incoming/ (one of them bad)")
    bucket = cloud.outputs["DataBucketName"]
    uploads = {
        "line-a.csv": csv_text(records(1500, seed=2), SCHEMA.columns),
        "line-b.csv": csv_text(records(1500, seed=3), SCHEMA.columns),
        "line-c.csv": csv_text(records(5, seed=4), SCHEMA.columns)
        + "1,299.0,309.1,1500,fast,12,3.1\n"
        + "1,299.0,309.1,1500,40.0,12,nan\n",
    }
    for name, body in uploads.items():
        stack.upload(cloud, name, body.encode())
    cloud.deliveries.settle()
    reports = [key for key in stack.keys(cloud, "quarantine/") if key.endswith(".error.json")]
    expect(len(reports) == 1, f"expected one quarantined file, found {reports}")
    document = stack.read_json(cloud, reports[0])
    detail(f"{document['key']} moved to s3://{bucket}/{reports[0].removesuffix('.error.json')}: ")
    for error in document["errors"]:
        where = f"line {error.get('line')}, column {error.get('column')}, value {error.get('value')!r}"
        detail(f"  {where}: {error['message']}")


def executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every execution of the stack's workflows, oldest first."""
    found = []
    for output, workflow in WORKFLOWS.items():
        for execution in sorted(stack.executions(cloud, output), key=lambda e: e["startDate"]):
            found.append({"name": execution["name"], "workflow": workflow, "status": execution["status"]})
    return found


def models(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every registered model package with its objective metric and decision, oldest first."""
    found = []
    for package in stack.model_packages(cloud, newest_first=False):
        report = stack.evaluation_report(cloud, package)
        found.append(
            {
                "package": package["ModelPackageArn"],
                "run_id": report["run_id"],
                "metric": report["objective"]["name"],
                "value": round(report["objective"]["value"], 4),
                "decision": package["ModelApprovalStatus"],
                "reasons": report["reasons"],
            }
        )
    return found


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


def show_round(cloud: LocalCloud, expected_run: str, expected_decision: str) -> dict[str, Any]:
    cloud.run_until_idle(timeout=300)
    runs = [e for e in executions(cloud) if e["workflow"] == "retraining"]
    latest = runs[-1] if runs else {}
    expect(latest.get("name") == expected_run, f"expected run {expected_run} to start by itself, saw {runs}")
    detail(f"{latest['name']}: {latest['status']}")
    expect(latest["status"] == "SUCCEEDED", f"run {expected_run} ended {latest['status']}")
    model = models(cloud)[-1]
    detail(f"model {model['package'].rsplit('/', 1)[-1]}: {model['metric']} {model['value']} -> {model['decision']}")
    for reason in model["reasons"]:
        detail(f"  {reason}")
    expect(model["decision"] == expected_decision, f"expected {expected_decision}, got {model}")
    return model


def shuffled_round(cloud: LocalCloud) -> None:
    say("Uploading 9000 rows whose labels are shuffled (no signal left): the next model must not be released")
    body = csv_text(records(9000, seed=5, shuffle_labels=True), SCHEMA.columns)
    stack.upload(cloud, "shuffled.csv", body.encode())


def drifted_round(cloud: LocalCloud) -> list[dict[str, Any]]:
    """A recalibrated torque sensor: fewer rows than MinNewRows, unlike the champion's training data, start a run."""
    say("A torque sensor is recalibrated: 600 rows read 1.6 times the torque (fewer than MinNewRows)")
    drifted = [row | {"torque_nm": round(float(row["torque_nm"]) * 1.6, 1)} for row in records(600, seed=8)]
    stack.upload(cloud, "recalibrated.csv", csv_text(drifted, SCHEMA.columns).encode())
    cloud.run_until_idle(timeout=300)
    started = [r for r in runs(cloud) if r["trigger"] == "drift"]
    expect(len(started) == 1, f"expected one run started by drift, saw {runs(cloud)}")
    [run] = started
    expect(run["drift"]["features"] == ["torque_nm"], f"expected torque_nm to drift alone, saw {run['drift']}")
    detail(
        f"{run['run_id']} started early, trigger drift: {', '.join(run['drift']['features'])} "
        f"(population stability index {run['drift']['max_psi']:.2f} over {run['drift']['rows']} rows)"
    )
    status = next(e["status"] for e in executions(cloud) if e["name"] == run["run_id"])
    expect(status == "SUCCEEDED", f"run {run['run_id']} ended {status}")
    model = models(cloud)[-1]
    detail(f"model {model['package'].rsplit('/', 1)[-1]}: {model['metric']} {model['value']} -> {model['decision']}")
    for reason in model["reasons"]:
        detail(f"  {reason} (the gate decides a drift run as any other: its data holds the shuffled rows too)")
    return [{"run_id": run["run_id"], **run["drift"], "decision": model["decision"]}]


WORKFLOWS = {
    "RetrainingStateMachineArn": "retraining",
    "EdgeReleaseStateMachineArn": "edge_release",
    "CanaryReleaseStateMachineArn": "canary_release",
}


def guard(cloud: LocalCloud) -> dict[str, Any]:
    """An intruder suspends versioning of the data bucket; the responder undoes it and freezes releases."""
    table, dynamodb = cloud.outputs["StateTableName"], cloud.client("dynamodb")
    say("Everything so far was the stack's own work: no security finding")
    expect(list_findings(table, dynamodb=dynamodb) == [], "the stack's own work raised a finding")
    say("An IAM user of the account suspends versioning of the data bucket")
    iam = cloud.client("iam")
    iam.create_user(UserName="mallory")
    allowed = {"Effect": "Allow", "Action": "s3:PutBucketVersioning", "Resource": "*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [allowed]})
    iam.put_user_policy(UserName="mallory", PolicyName="versioning", PolicyDocument=policy)
    intruder = cloud.client("s3", principal=f"arn:aws:iam::{cloud.account_id}:user/mallory")
    bucket = cloud.outputs["DataBucketName"]
    intruder.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    cloud.run_until_idle()
    [finding] = list_findings(table, dynamodb=dynamodb)
    versioning = cloud.client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
    frozen = freeze_state(table, dynamodb=dynamodb).frozen
    expect(versioning == "Enabled" and frozen, f"versioning {versioning}, frozen {frozen}")
    detail(f"finding {finding.finding_id}: {finding.title}")
    detail(f"undone: {', '.join(finding.remediated or [])}; releases frozen; the topic was alerted")
    say("An operator looks, then acknowledges the finding through the unfreeze function")
    request = {"finding_id": finding.finding_id, "reason": "demo: mallory's change undone", "lifted_by": "demo"}
    cloud.client("lambda").invoke(FunctionName=cloud.outputs["UnfreezeFunctionName"], Payload=json.dumps(request))
    lifted = freeze_state(table, dynamodb=dynamodb)
    expect(not lifted.frozen, "the freeze was not lifted")
    detail(f"releases unfrozen by {lifted.lifted_by}")
    return {"finding": finding.kind, "remediated": finding.remediated, "frozen": frozen, "unfrozen": not lifted.frozen}


def run(template: Path, summary_path: Path, *, delivery: AtLeastOnce | None = None) -> dict[str, Any]:
    """Deploy the stack locally and walk through each capability; return and write the summary.

    ``delivery`` None delivers every event once, in order; ``AtLeastOnce(seed=...)`` as AWS may.
    """
    say(f"Deploying {template} into the local cloud (samtranslator + moto, no AWS account)")
    with LocalCloud.from_template(template, parameters=PARAMETERS, delivery=delivery) as cloud:
        return play(cloud, summary_path)


def play(cloud: LocalCloud, summary_path: Path) -> dict[str, Any]:
    """Walk through each capability on ``cloud``, deployed with :data:`PARAMETERS`; return and write the summary."""
    for name, value in sorted(cloud.outputs.items()):
        detail(f"{name:<32} {value}")
    health = check_health(cloud)
    stream_records(cloud)
    upload_files(cloud)
    say(f"Retraining starts by itself once {PARAMETERS['MinNewRows']} new rows have arrived (real XGBoost)")
    champion = show_round(cloud, "run-000001", "Approved")
    detail(f"first champion: {champion['package']}")
    shuffled_round(cloud)
    show_round(cloud, "run-000002", "Rejected")
    approved = [m for m in models(cloud) if m["decision"] == "Approved"]
    expect([m["package"] for m in approved] == [champion["package"]], "the champion changed")
    detail(f"champion kept: {champion['package']}")
    drift = drifted_round(cloud)
    security = guard(cloud)
    summary: dict[str, Any] = {
        "stack": cloud.stack_name,
        "version": health["version"],
        "health": health["status"],
        "deliveries": {
            "duplicated": sum(fate.copies - 1 for fate in cloud.deliveries.log),
            "late": sum(fate.late for fate in cloud.deliveries.log),
            "refused": sum(cloud.deliveries.refused.values()),
        },
        "dataset": dataset(cloud),
        "runs": runs(cloud),
        "executions": executions(cloud),
        "models": models(cloud),
        "drift": drift,
        "security": security,
    }
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"Summary written to {summary_path}")
    return summary
