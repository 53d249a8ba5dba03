"""The demo: the whole loop of what exists so far, on the local cloud, with progress on the terminal."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from conveyor.schema import load_schema
from localcloud.cloud import LocalCloud
from localcloud.synthetic import csv_text, records

PARAMETERS = {"MinNewRows": "400", "RetrainSchedule": "rate(1 hour)"}
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
    bucket = cloud.outputs["DataBucketName"]
    errors = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix="errors/stream/").get("Contents", [])
    detail(
        f"145 rows reached the dataset; 2 heartbeats dropped; rejected records are under s3://{bucket}/errors/stream/"
    )
    for obj in errors:
        detail(f"  {obj['Key']}")
    for invocation in cloud.runtime.invocations:
        if invocation.function_name == cloud.outputs["FirehoseTransformFunctionName"] and invocation.result:
            failed = [r for r in invocation.result["records"] if r["result"] == "ProcessingFailed"]
            for record in failed:
                reason = json.loads(base64.b64decode(record["data"]))["reason"]
                detail(f"  rejected: {reason['message']} (rule {reason['rule']})")
            expect(len(failed) == 3, f"expected 3 rejected records, got {len(failed)}")


def upload_files(cloud: LocalCloud) -> None:
    say("Uploading three CSV files under incoming/ (one of them bad)")
    bucket = cloud.outputs["DataBucketName"]
    s3 = cloud.client("s3")
    uploads = {
        "incoming/uploads/line-a.csv": csv_text(records(150, seed=2), SCHEMA.columns),
        "incoming/uploads/line-b.csv": csv_text(records(150, seed=3), SCHEMA.columns),
        "incoming/uploads/line-c.csv": csv_text(records(5, seed=4), SCHEMA.columns)
        + "1,299.0,309.1,1500,fast,12,3.1\n"
        + "1,299.0,309.1,1500,40.0,12,nan\n",
    }
    for key, body in uploads.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    errors = s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", [])
    reports = [o["Key"] for o in errors if o["Key"].endswith(".error.json")]
    expect(len(reports) == 1, f"expected one quarantined file, found {reports}")
    document = json.loads(s3.get_object(Bucket=bucket, Key=reports[0])["Body"].read())
    detail(f"{document['key']} moved to s3://{bucket}/{reports[0].removesuffix('.error.json')}: ")
    for error in document["errors"]:
        where = f"line {error.get('line')}, column {error.get('column')}, value {error.get('value')!r}"
        detail(f"  {where}: {error['message']}")


def show_runs(cloud: LocalCloud) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=cloud.outputs["RetrainingStateMachineArn"])["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        run_input = json.loads(described["input"])
        detail(
            f"{execution['name']}: {described['status']} ({run_input['trigger']}, {run_input['dataset']['rows']} rows)"
        )
        found.append({"name": execution["name"], "workflow": "retraining", "status": described["status"]})
    return found


def run(template: Path, summary_path: Path) -> dict[str, Any]:
    """Deploy the stack locally and walk through each capability; return and write the summary."""
    say(f"Deploying {template} into the local cloud (samtranslator + moto, no AWS account)")
    with LocalCloud.from_template(template, parameters=PARAMETERS) as cloud:
        for name, value in sorted(cloud.outputs.items()):
            detail(f"{name:<32} {value}")
        health = check_health(cloud)
        stream_records(cloud)
        upload_files(cloud)
        cloud.run_until_idle()
        say(f"Retraining starts by itself once {PARAMETERS['MinNewRows']} new rows have arrived")
        executions = show_runs(cloud)
        expect([e["name"] for e in executions] == ["run-000001"], f"expected one run, got {executions}")
        summary: dict[str, Any] = {
            "stack": cloud.stack_name,
            "version": health["version"],
            "health": health["status"],
            "executions": executions,
            "models": [],
        }
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"Summary written to {summary_path}")
    return summary
