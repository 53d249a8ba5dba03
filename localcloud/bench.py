"""``conveyor-bench``: benchmarks, each reported against a baseline measured in the same run.

Rows of ``build/bench/results.json``: ``{"name", "value", "unit", "baseline", "ratio"}`` with
``ratio = value / baseline``. Machines are shared and noisy, so each figure is the median of
several fresh runs and only the ratio is meant to be compared across runs.
"""

from __future__ import annotations

import argparse
import base64
import csv
import importlib
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conveyor.schema import load_schema
from localcloud.cloud import LocalCloud
from localcloud.synthetic import csv_text, records
from localcloud.template import load_sam_template

ROOT = Path(__file__).resolve().parent.parent
FIREHOSE_BATCH_BYTES = 6 * 1024 * 1024
INGEST_FILE_BYTES = 50 * 1024 * 1024
# Services a function reaches only through the runtime (logs, traces, encryption, on-failure
# destinations), not with clients of its own; and IAM prefixes that boto3 names differently.
RUNTIME_SERVICES = {"logs", "xray", "kms", "sqs"}
BOTO3_NAMES = {"states": "stepfunctions"}

_CLIENTS = "import boto3\nfor service in {services!r}:\n    boto3.client(service)\n"
_TIMED = "import time\nstart = time.perf_counter()\n{body}\nprint(time.perf_counter() - start)\n"


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    baseline: float
    ratio: float

    @classmethod
    def measured(cls, name: str, value: float, baseline: float, unit: str, digits: int = 2) -> Row:
        """A row whose ratio is ``value / baseline``."""

        def shown(number: float) -> float:
            return round(number, digits) if digits else round(number)

        return cls(name, shown(value), unit, shown(baseline), round(value / baseline, 3))


def measure(body: str, env: dict[str, str], repeats: int) -> float:
    """Median seconds that ``body`` takes in a fresh interpreter, interpreter start-up excluded."""
    samples = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, "-c", _TIMED.format(body=body)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"benchmark process failed:\n{completed.stderr}")
        samples.append(float(completed.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def function_services(template: dict[str, Any], function: dict[str, Any]) -> list[str]:
    """AWS services a function calls itself, read from the Allow statements of its role."""
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    actions = [
        action
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Effect") == "Allow"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]
    prefixes = {action.split(":")[0] for action in actions} - RUNTIME_SERVICES
    return sorted(BOTO3_NAMES.get(prefix, prefix) for prefix in prefixes)


def function_environment(template: dict[str, Any], function: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables, with placeholders where the template resolves values."""
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **function["Properties"].get("Environment", {}).get("Variables", {}),
    }
    defaults = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}

    def resolve(name: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and value.get("Ref") in defaults:
            return defaults[value["Ref"]]
        return f"bench-{name.lower()}"

    return {name: resolve(name, value) for name, value in variables.items()}


def cold_starts(repeats: int) -> list[Row]:
    """Each function's cold start against a fresh process that only creates the same boto3 clients."""
    template = load_sam_template(ROOT / "template.yaml")
    base_env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "false",
    }
    rows = []
    for logical_id, function in template["Resources"].items():
        if function["Type"] != "AWS::Serverless::Function":
            continue
        code = ROOT / function["Properties"]["CodeUri"]
        module, _, _ = function["Properties"]["Handler"].rpartition(".")
        services = function_services(template, function)
        env = {
            **base_env,
            **function_environment(template, function),
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "PYTHONPATH": os.pathsep.join([str(code), str(ROOT / "layers" / "shared")]),
        }
        clients = _CLIENTS.format(services=services)
        value = measure(f"import {module}\n{clients}", env, repeats)
        baseline = measure(clients, env, repeats)
        name = f"cold start: {logical_id} (import handler + create {', '.join(services)} clients)"
        rows.append(Row.measured(name, value * 1000, baseline * 1000, "ms"))
    return rows


def _timed(function: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``function`` over ``repeats`` runs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _function_module(function: str, module: str) -> Any:
    """A function's logic module, imported as its handler imports it (by name, from its folder)."""
    sys.path.insert(0, str(ROOT / "functions" / function))
    return importlib.import_module(module)


def firehose_transform(repeats: int) -> list[Row]:
    """The transform on a 6 MB Firehose batch against decode + parse + CSV encode without validation."""
    transform_batch = _function_module("firehose_transform", "transform").transform_batch

    schema = load_schema("predictive_maintenance")
    batch: list[tuple[str, str]] = []
    size = 0
    for index, record in enumerate(records(60_000)):
        data = base64.b64encode(json.dumps(record).encode()).decode()
        size += len(data) + 120  # recordId, timestamp and JSON punctuation per record in the event
        if size > FIREHOSE_BATCH_BYTES:
            break
        batch.append((f"{index:056d}", data))

    def floor() -> None:
        for _, data in batch:
            document = json.loads(base64.b64decode(data))
            ",".join(repr(document[column]) for column in schema.columns)

    value = _timed(lambda: transform_batch(schema, batch).response(), repeats)
    baseline = _timed(floor, repeats)
    name = f"firehose transform: 6 MB batch ({len(batch)} records)"
    return [Row.measured(name, value * 1000, baseline * 1000, "ms", digits=1)]


def ingest_throughput(repeats: int) -> list[Row]:
    """Rows per second that upload validation checks in a 50 MB CSV, against csv.reader + float()."""
    check_file = _function_module("ingest", "ingestion").check_file

    schema = load_schema("predictive_maintenance")
    lines = [",".join(schema.columns)]
    size = 0
    for record in itertools.cycle(records(10_000)):
        line = ",".join(str(record[column]) for column in schema.columns)
        size += len(line) + 1
        if size > INGEST_FILE_BYTES:
            break
        lines.append(line)
    body = ("\n".join(lines) + "\n").encode()
    rows = len(lines) - 1

    def floor() -> None:
        for cells in csv.reader(io.StringIO(body.decode())):
            [float(cell) for cell in cells[1:]] if cells[0][0].isdigit() else None

    value = _timed(lambda: check_file(schema, body, has_header=True, max_rows=rows), max(1, repeats // 3))
    baseline = _timed(floor, max(1, repeats // 3))
    name = f"ingest: rows per second validating a 50 MB upload ({rows} rows)"
    return [Row.measured(name, rows / value, rows / baseline, "rows/s", digits=0)]


def retraining_transitions() -> list[Row]:
    """State transitions (Step Functions bills each) of one approved retraining run on the local cloud."""
    columns = load_schema("predictive_maintenance").columns
    with LocalCloud.from_template(ROOT / "template.yaml", parameters={"NumRound": "50"}) as cloud:
        bucket = cloud.outputs["DataBucketName"]
        s3 = cloud.client("s3")
        s3.put_object(
            Bucket=bucket, Key="datasets/parts/bench.csv", Body=csv_text(records(3000), columns, header=False).encode()
        )
        manifest = {"run_id": "run-000001", "parts": [{"key": "datasets/parts/bench.csv", "rows": 3000}]}
        s3.put_object(Bucket=bucket, Key="datasets/snapshots/run-000001.json", Body=json.dumps(manifest).encode())
        run_input = {
            "run_id": "run-000001",
            "trigger": "threshold",
            "claimed_at": "2026-01-01T00:00:00+00:00",
            "new_rows": 3000,
            "dataset": {
                "bucket": bucket,
                "manifest_key": "datasets/snapshots/run-000001.json",
                "rows": 3000,
                "parts": 1,
            },
        }
        sfn = cloud.client("stepfunctions")
        machine = cloud.outputs["RetrainingStateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="run-000001", input=json.dumps(run_input))[
            "executionArn"
        ]
        cloud.run_until_idle(timeout=300)
        if sfn.describe_execution(executionArn=arn)["status"] != "SUCCEEDED":
            raise RuntimeError("the benchmark's retraining run did not succeed")
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    entered = sum(1 for event in events if event["type"].endswith("StateEntered"))
    states = len(definition["States"])
    name = f"retraining: state transitions of one approved run (of {states} states defined)"
    return [Row.measured(name, entered, states, "transitions", digits=0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conveyor-bench", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("build/bench/results.json"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rows = (
        cold_starts(args.repeats)
        + firehose_transform(args.repeats)
        + ingest_throughput(args.repeats)
        + retraining_transitions()
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
    for row in rows:
        print(f"{row.name}: {row.value} {row.unit} vs {row.baseline} {row.unit} (x{row.ratio})")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
