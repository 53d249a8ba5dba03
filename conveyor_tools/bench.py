"""``conveyor-bench``: benchmarks, each reported against a baseline measured in the same run.

Rows of ``build/bench/results.json``: ``{"name", "value", "unit", "baseline", "ratio"}`` with
``ratio = value / baseline``. Machines are shared and noisy, so each figure is the median of
several fresh runs and only the ratio is meant to be compared across runs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import io
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from conveyor.aws import split_s3_uri
from conveyor.events import FirehoseTransformation
from conveyor.schema import load_schema
from conveyor.state.canary import CanaryRecord, CanaryState, get_canary
from conveyor.state.control import FREEZE_KEY, FROZEN
from conveyor.state.items import to_item
from conveyor_inference.native import CompiledModel
from conveyor_tools import bench_demo, bench_drift, bench_scale, stack
from conveyor_tools.approval import decide
from conveyor_tools.bench_scale import function_module
from conveyor_tools.lambda_packages import layer_requirements, link_packages
from conveyor_tools.seeding import seed_run
from conveyor_tools.synthetic import csv_text, packaged_model, records
from conveyor_tools.transitions import backoff_retries, entered, retrier
from localcloud.clock import DEFAULT_SCALE
from localcloud.cloud import LocalCloud
from localcloud.compilation.compiler import compile_model
from localcloud.compilation.predictor import CompiledModel as ArrayModel
from localcloud.compilation.targets import resolve
from localcloud.hosting.container import load_model
from localcloud.template import load_sam_template
from localcloud.training import train

ROOT = Path(__file__).resolve().parent.parent
FIREHOSE_BATCH_BYTES = 6 * 1024 * 1024
INGEST_FILE_BYTES = 50 * 1024 * 1024
COLD_START = ROOT / "conveyor_tools" / "cold_start.py"
EVENTS = ROOT / "events"
REGION = "us-east-1"
# What AWS answers each call of a first invocation with: nothing handled yet, no champion, no freeze, no finding.
REPLIES: dict[str, dict[str, Any]] = {
    "dynamodb.GetItem": {},
    "dynamodb.PutItem": {},
    "dynamodb.UpdateItem": {},
    "dynamodb.TransactWriteItems": {},
    "dynamodb.Query": {"Items": [], "Count": 0, "ScannedCount": 0},
    "s3.PutObject": {"ETag": '"bench"'},
    "s3.CopyObject": {"CopyObjectResult": {"ETag": '"bench"'}},
    "s3.DeleteObject": {},
    "s3.PutObjectTagging": {},
    "s3.PutPublicAccessBlock": {},
    "sns.Publish": {"MessageId": "bench"},
    "stepfunctions.StartExecution": {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:bench:run"},
}

# Where a function's first invocation meets another state: the unfreeze function, a freeze held by its sample finding.
_SAMPLE_FINDING = json.loads((EVENTS / "security" / "unfreeze.json").read_text(encoding="utf-8"))["finding_id"]
# The start_release function, the registry's sample package still Approved when its event arrives.
_SAMPLE_PACKAGE = json.loads((EVENTS / "release" / "start_release.json").read_text(encoding="utf-8"))["detail"]
FUNCTION_REPLIES: dict[str, dict[str, dict[str, Any]]] = {
    "UnfreezeFunction": {
        "dynamodb.GetItem": {"Item": FREEZE_KEY | to_item({FROZEN: True, "finding_ids": {_SAMPLE_FINDING}})},
    },
    # The canary controller, its sample alarm on package 2's canary while it bakes.
    "CanaryControllerFunction": {
        "dynamodb.UpdateItem": {
            "Attributes": to_item(
                {
                    "version": 2,
                    "package_arn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/conveyor-dev-models/2",
                    "endpoint_name": "conveyor-dev",
                    "state": "ROLLING_BACK",
                    "state_changed_at": "2026-11-26T10:03:00+00:00",
                    "challenger_variant": "p2",
                    "champion_variant": "p1",
                    "task_token": "bench-token",
                }
            )
        },
        "sagemaker.UpdateEndpointWeightsAndCapacities": {
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/conveyor-dev"
        },
        "stepfunctions.SendTaskFailure": {},
    },
    "StartReleaseFunction": {
        "sagemaker.DescribeModelPackage": {
            key: _SAMPLE_PACKAGE[key]
            for key in ("ModelPackageGroupName", "ModelPackageArn", "ModelApprovalStatus", "InferenceSpecification")
        },
        "events.PutEvents": {"FailedEntryCount": 0, "Entries": [{"EventId": "bench"}]},
    },
}


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


# The stack the sample events in events/ name, for variables a function checks the shape of.
SAMPLE_STACK = {
    "DATA_BUCKET_NAME": "conveyor-dev-databucket",
    "ARTIFACT_BUCKET_NAME": "conveyor-dev-artifactbucket",
    "LOG_BUCKET_NAME": "conveyor-dev-logbucket",
    "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:conveyor-dev-notifications",
    "KEY_ARN": f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "TRAIL_ARN": f"arn:aws:cloudtrail:{REGION}:123456789012:trail/conveyor-dev",
    "STACK_ROLE_PATH": "/conveyor/dev/",
    "THING_GROUP_ARN": f"arn:aws:iot:{REGION}:123456789012:thinggroup/conveyor-dev-fleet",
}


def function_environment(template: dict[str, Any], function: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables: the sample stack's where it has them, else placeholders."""
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **function["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return {name: SAMPLE_STACK.get(name) or _resolve(template, name, value) for name, value in variables.items()}


def function_property(template: dict[str, Any], function: dict[str, Any], name: str) -> str:
    """A property of the function, or of the template's Globals, as a stack with default parameters sets it."""
    value = function["Properties"].get(name, template.get("Globals", {}).get("Function", {}).get(name, ""))
    return _resolve(template, name, value)


def _resolve(template: dict[str, Any], name: str, value: Any) -> str:
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        chosen = when_true if _holds(template, template["Conditions"][condition]) else when_false
        return _resolve(template, name, chosen)
    if isinstance(value, dict) and value.get("Ref") in template.get("Parameters", {}):
        return str(template["Parameters"][value["Ref"]].get("Default", ""))
    return f"bench-{name.lower().replace('_', '-')}"


def _holds(template: dict[str, Any], condition: dict[str, Any]) -> bool:
    """A condition of ``Fn::Equals`` and ``Fn::Not`` over parameters, as the parameters' defaults decide it."""
    if "Fn::Not" in condition:
        return not _holds(template, condition["Fn::Not"][0])
    left, right = (_resolve(template, "condition", side) for side in condition["Fn::Equals"])
    return left == right


def bench_objects() -> dict[str, bytes]:
    """The S3 objects the sample events refer to: the uploaded CSV, a dataset snapshot and its parts' channels."""
    columns = load_schema("predictive_maintenance").columns
    upload = json.loads((EVENTS / "ingestion" / "ingest.json").read_text(encoding="utf-8"))["detail"]["object"]
    dataset = json.loads((EVENTS / "retraining" / "prepare_channels.json").read_text(encoding="utf-8"))["dataset"]
    parts = json.loads((EVENTS / "retraining" / "compact_parts.json").read_text(encoding="utf-8"))["sources"]
    objects = {upload["key"]: csv_text(records(5), columns, header=True).encode()}
    for part in parts:
        for channel in part["channels"].values():
            objects[channel["key"]] = csv_text(records(channel["rows"]), columns, header=False).encode()
    objects[dataset["manifest_key"]] = json.dumps({"run_id": "run-000001", "parts": parts}).encode()
    # The evaluation's sample event: its run's test manifest over the same parts, and the model it trained.
    evaluation = json.loads((EVENTS / "retraining" / "evaluate_model.json").read_text(encoding="utf-8"))
    test_keys = [part["channels"]["test"]["key"] for part in parts]
    bucket, manifest_key = split_s3_uri(evaluation["channels"]["test"])
    objects[manifest_key] = json.dumps([{"prefix": f"s3://{bucket}/"}, *test_keys]).encode()
    objects[split_s3_uri(evaluation["training"]["ModelDataUrl"])[1]] = _model_tarball(records(500, 3), columns)
    return objects


def _model_tarball(rows: list[dict[str, float | int]], columns: list[str]) -> bytes:
    """``model.tar.gz`` holding an ``xgboost-model`` trained on ``rows`` (label first in ``columns``)."""
    matrix = np.array([[row[column] for column in columns] for row in rows], dtype=np.float32)
    booster = xgb.train({"max_depth": 3, "objective": "binary:logistic"}, xgb.DMatrix(matrix[:, 1:], matrix[:, 0]), 20)
    return packaged_model(bytes(booster.save_raw("ubj")))


class ColdStart:
    """Runs conveyor_tools/cold_start.py for one function in a fresh interpreter laid out as Lambda lays it out."""

    def __init__(self, work: Path, plan: dict[str, Any], env: dict[str, str], traces: socket.socket) -> None:
        self.work = work
        self.plan = plan
        self.env = env
        self.traces = traces

    def run(self, mode: str, **fields: Any) -> float:
        """CPU seconds from the first statement to the end of the work of ``mode`` (see cold_start.py)."""
        plan_file = self.work / f"{mode}.json"
        plan_file.write_text(json.dumps({**self.plan, **fields, "mode": mode}), encoding="utf-8")
        completed = subprocess.run(
            [sys.executable, "-I", "-S", str(COLD_START), str(plan_file)],
            cwd=self.plan["path"][0],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"cold start of {self.plan['handler']} ({mode}) failed:\n{completed.stderr}")
        _wall, cpu = completed.stdout.strip().splitlines()[-1].split()
        return float(cpu)

    def segments(self) -> int:
        """X-Ray documents the runs sent since the last call."""
        count = 0
        with contextlib.suppress(BlockingIOError):
            while self.traces.recv(65_536):
                count += 1
        return count


def cold_starts(repeats: int, environment: dict[str, str] | None = None) -> list[Row]:
    """Each function's cold start to the end of its first invocation, against boto3 making the same calls.

    The floor is a fresh process that imports boto3, creates the clients the function created and
    makes the calls it made, answered the same way (cold_start.py says how). Handler and floor
    runs alternate so that both see the same machine. ``environment`` overrides the functions'
    variables (to compare options, e.g. POWERTOOLS_TRACE_DISABLED).
    """
    template = load_sam_template(ROOT / "template.yaml")
    objects = {key: base64.b64encode(body).decode() for key, body in bench_objects().items()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as scratch, _trace_daemon() as traces:
        packages = Path(scratch)
        layer = link_packages(packages / "layer", layer_requirements(ROOT / "layers" / "shared" / "requirements.txt"))
        runtime = link_packages(packages / "runtime", ["boto3"])
        for logical_id, function in template["Resources"].items():
            if function["Type"] != "AWS::Serverless::Function":
                continue
            code = ROOT / function["Properties"]["CodeUri"]
            sample_event = (EVENTS / code.relative_to(ROOT / "functions")).with_suffix(".json")
            work = packages / logical_id
            work.mkdir()
            # sam build installs a function's own requirements beside its code.
            requirements = code / "requirements.txt"
            own = []
            if requirements.is_file():
                own = [str(link_packages(work / "packages", layer_requirements(requirements)))]
            plan = {
                "path": [str(code), *own, str(layer), str(ROOT / "layers" / "shared"), str(runtime)],
                "handler": function["Properties"]["Handler"],
                "event": json.loads(sample_event.read_text(encoding="utf-8")),
                "context": {
                    "function_name": logical_id,
                    "invoked_function_arn": f"arn:aws:lambda:{REGION}:123456789012:function:{logical_id}",
                    "memory_limit_in_mb": int(function_property(template, function, "MemorySize")),
                    "aws_request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                    "log_group_name": f"/aws/lambda/{logical_id}",
                },
            }
            env = {**lambda_environment(template, function, logical_id, traces.getsockname()[1]), **(environment or {})}
            probe = ColdStart(work, plan, env, traces)
            record_to = work / "calls.json"
            replies = REPLIES | FUNCTION_REPLIES.get(logical_id, {})
            probe.run("record", replies=replies, objects=objects, record_to=str(record_to))
            traced = function_property(template, function, "Tracing") == "Active"
            if traced and env.get("POWERTOOLS_TRACE_DISABLED", "false") != "true" and probe.segments() == 0:
                raise RuntimeError(f"{logical_id} has Tracing Active but sent no trace to the X-Ray daemon")
            calls = json.loads(record_to.read_text(encoding="utf-8"))
            samples: dict[str, list[float]] = {"handler": [], "floor": []}
            for repeat in range(repeats):
                for mode in ("handler", "floor") if repeat % 2 == 0 else ("floor", "handler"):
                    samples[mode].append(probe.run(mode, calls=calls))
                probe.segments()
            services = sorted({call["service"] for call in calls})
            name = (
                f"cold start: {logical_id} to the end of its first invocation"
                f" (floor: boto3 making the same AWS calls, {len(calls)} to {', '.join(services)})"
            )
            value, baseline = (statistics.median(samples[mode]) * 1000 for mode in ("handler", "floor"))
            rows.append(Row.measured(name, value, baseline, "ms"))
    return rows


def lambda_environment(
    template: dict[str, Any], function: dict[str, Any], logical_id: str, port: int
) -> dict[str, str]:
    """The variables Lambda sets for the function, its own included; traces go to a local port."""
    code = ROOT / function["Properties"]["CodeUri"]
    # Lambda sets a trace header for every invocation; it asks for the trace to be kept when tracing is Active.
    sampled = 1 if function_property(template, function, "Tracing") == "Active" else 0
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # No shared AWS configuration exists in Lambda; credentials come from the environment.
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": function_property(template, function, "MemorySize"),
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "_X_AMZN_TRACE_ID": f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={sampled}",
        "LAMBDA_TASK_ROOT": str(code),
        "_HANDLER": function["Properties"]["Handler"],
        **function_environment(template, function),
    }


@contextlib.contextmanager
def _trace_daemon() -> Iterator[socket.socket]:
    """A UDP socket standing where Lambda's X-Ray daemon listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.setblocking(False)
        yield daemon


def _timed(function: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``function`` over ``repeats`` runs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def firehose_transform(repeats: int) -> list[Row]:
    """The transform on a 6 MB Firehose batch against decode + parse + CSV encode without validation."""
    transform_batch = function_module("ingestion/firehose_transform", "transform").transform_batch

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

    # Parsed before the timer, as the handler parses the event before the transform
    event = {"invocationId": "bench", "records": [{"recordId": record_id, "data": data} for record_id, data in batch]}
    invocation = FirehoseTransformation.model_validate(event)
    value = _timed(lambda: transform_batch(schema, invocation.records).response(), repeats)
    baseline = _timed(floor, repeats)
    name = f"firehose transform: 6 MB batch ({len(batch)} records)"
    return [Row.measured(name, value * 1000, baseline * 1000, "ms", digits=1)]


def ingest_throughput(repeats: int) -> list[Row]:
    """Rows per second that upload validation checks in a 50 MB CSV, against csv.reader + float()."""
    check_file = function_module("ingestion/ingest", "ingestion").check_file

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


def drift_tracking(repeats: int) -> list[Row]:
    """Upload ingestion with drift tracking against the same without (ratio: its share of the throughput
    kept), on a 50 MB upload (an even sample of its rows counted) and a 4 MB one (every row counted); and
    drift's own work per 1,000-row part against ingesting that part."""
    baseline = bench_drift.training_baseline()
    rows = []
    # (more turns of the small upload, which takes a tenth of the time: its ratio is as steady)
    for size_mb, turns in ((50, max(3, repeats // 2)), (4, 2 * repeats)):
        tracked, plain, every = bench_drift.ingest_with_and_without(size_mb, baseline, turns)
        counted = "every row counted" if every == 1 else f"1 row in {every} counted"
        name = f"ingest with drift tracking: MB/s of a {size_mb} MB upload ({counted}) against without"
        rows.append(Row.measured(name, size_mb / tracked, size_mb / plain, "MB/s"))
    drift, plain = bench_drift.drift_per_part(1000, baseline, repeats)
    name = "drift per part: counting a 1,000-row part's rows and measuring the histogram, against ingesting the part"
    return [*rows, Row.measured(name, drift * 1000, plain * 1000, "ms", digits=2)]


def _retraining_run(cloud: LocalCloud, run_id: str, seed: int = 7) -> str:
    """Run the retraining workflow on 3000 fresh rows; the execution's ARN (it must succeed)."""
    run_input = seed_run(cloud, run_id, seed=seed)
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["RetrainingStateMachineArn"]
    arn = str(sfn.start_execution(stateMachineArn=machine, name=run_id, input=json.dumps(run_input))["executionArn"])
    cloud.run_until_idle(timeout=300)
    if sfn.describe_execution(executionArn=arn)["status"] != "SUCCEEDED":
        raise RuntimeError(f"the benchmark's retraining run {run_id} did not succeed")
    return arn


def run_start(repeats: int) -> list[Row]:
    """Time and peak memory to start a run for 10^5, 10^6 and 10^7 rows: flat in rows (bench_scale.py)."""
    sizes = bench_scale.run_start(max(1, repeats // 3))
    smallest = sizes[0]
    old = bench_scale.old_split_seconds(smallest["rows"])
    rows = [
        Row.measured(
            f"run start at {smallest['rows']:.0e} rows ({smallest['parts']} parts) vs the old in-memory split",
            smallest["seconds"],
            old,
            "s",
        )
    ]
    for size in sizes[1:]:
        name = f"run start at {size['rows']:.0e} rows ({size['parts']} parts) vs at {smallest['rows']:.0e}"
        rows.append(Row.measured(f"{name}: time", size["seconds"], smallest["seconds"], "s"))
        rows.append(Row.measured(f"{name}: peak memory", size["peak_mib"], smallest["peak_mib"], "MiB"))
    return rows


def schema_migration() -> list[Row]:
    """Seconds per million rows to migrate parts to a changed schema, against copying them (bench_scale.py)."""
    cost = bench_scale.migration()
    name = f"schema migration: seconds per million rows laid out in new columns ({cost['rows']:.0f} rows) vs copied"
    return [Row.measured(name, cost["migration"], cost["copy"], "s/Mrows")]


def upload_burst() -> list[Row]:
    """2,000 uploads at once, delivered at least once with transaction conflicts: every row counted once."""
    landed = bench_scale.burst()
    name = (
        f"burst of {landed['files']} uploads ({landed['conflicts']} transactions cancelled for conflicts and retried,"
        f" {landed['seconds']:.0f} s locally): rows counted vs rows sent"
    )
    return [Row.measured(name, landed["rows_counted"], landed["rows_sent"], "rows", digits=0)]


def _transitions(cloud: LocalCloud, machine_output: str, execution_arn: str, name: str) -> Row:
    sfn = cloud.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    machine = cloud.outputs[machine_output]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    states = len(definition["States"])
    return Row.measured(f"{name} (of {states} states defined)", entered(events), states, "transitions", digits=0)


def retraining_transitions() -> list[Row]:
    """State transitions (Step Functions bills each) of one approved retraining run on the local cloud."""
    with LocalCloud.from_template(ROOT / "template.yaml", parameters={"NumRound": "50"}) as cloud:
        arn = _retraining_run(cloud, "run-000001")
        return [
            _transitions(cloud, "RetrainingStateMachineArn", arn, "retraining: state transitions of one approved run")
        ]


def _ended(record: CanaryRecord) -> bool:
    return record.state in (CanaryState.PROMOTED, CanaryState.ROLLED_BACK, CanaryState.FAILED)


def canary_release() -> list[Row]:
    """One canary promoted and one rolled back by its alarm, on the local cloud with steady traffic.

    Package 2 bakes healthy and is promoted; package 3 fails 20 % of its requests and is rolled
    back. Reported: the stack time from the alarm's change to ALARM to the challenger's weight at
    0 (against one alarm period) and from its first failing request (against two periods, the most
    the canary promises with one evaluation period); the wall time of the minute in which that
    happened (against the median minute of the same traffic before it); and each canary's state
    transitions.
    """
    period = 60
    parameters = {"NumRound": "30", "MinNewRows": "1000000", "ApprovalMode": "manual", "BakeMinutes": "10"}
    schema = load_schema("predictive_maintenance")
    rows = [[row[feature.name] for feature in schema.features] for row in records(50, seed=3)]
    with LocalCloud.from_template(ROOT / "template.yaml", parameters=parameters) as cloud:
        endpoint, table, dynamodb = (
            cloud.outputs["EndpointName"],
            cloud.outputs["StateTableName"],
            cloud.client("dynamodb"),
        )
        _retraining_run(cloud, "run-000001")
        decide(cloud, "1", "Approved", "bench: first model")
        cloud.run_until_idle()
        minutes: dict[int, list[float]] = {}
        for version in (2, 3):
            _retraining_run(cloud, f"run-00000{version}")
            cloud.clock.scale = 1.0  # the bake runs on stack time at wall speed: only advance moves it
            decide(cloud, str(version), "Approved", "bench")
            while (record := get_canary(table, version, dynamodb)) is None or record.state != CanaryState.BAKING:
                time.sleep(0.01)
            if version == 3:
                cloud.endpoint_faults.variant(endpoint, f"p{version}", error_rate=0.2)
            cloud.traffic.start(endpoint, rows, per_second=5)
            minutes[version] = []
            while not _ended(record):
                start = time.perf_counter()
                cloud.advance(minutes=1)
                minutes[version].append(time.perf_counter() - start)
                record = get_canary(table, version, dynamodb) or record
            cloud.traffic.stop()
            cloud.clock.scale = DEFAULT_SCALE
            cloud.run_until_idle(timeout=60)
        rolled_back = get_canary(table, 3, dynamodb)
        if rolled_back is None or rolled_back.alarm_changed_at is None or rolled_back.weight_zero_at is None:
            raise RuntimeError(f"the benchmark's failing canary was not rolled back by an alarm: {rolled_back}")
        first_failure = min(r.at for r in cloud.traffic.log if r.variant == "p3" and not r.ok)
        executions = {e["name"]: e["executionArn"] for e in stack.executions(cloud, "CanaryReleaseStateMachineArn")}
        transitions = [
            _transitions(
                cloud,
                "CanaryReleaseStateMachineArn",
                executions["package-2"],
                "canary: state transitions of a promoted release",
            ),
            _transitions(
                cloud,
                "CanaryReleaseStateMachineArn",
                executions["package-3"],
                "canary: state transitions of a rolled-back release",
            ),
        ]
    alarm_to_zero = (rolled_back.weight_zero_at - rolled_back.alarm_changed_at).total_seconds()
    failure_to_zero = (rolled_back.weight_zero_at - first_failure).total_seconds()
    return [
        Row.measured(
            "canary: alarm in ALARM to the challenger's weight at 0 (stack time, vs one alarm period)",
            alarm_to_zero,
            period,
            "s",
        ),
        Row.measured(
            "canary: first failing request to the challenger's weight at 0 (stack time, vs two periods)",
            failure_to_zero,
            2 * period,
            "s",
        ),
        Row.measured(
            "canary: wall time of the minute the alarm fired and the canary rolled back (vs the median minute before)",
            minutes[3][-1] * 1000,
            statistics.median(minutes[3][:-1] or minutes[2]) * 1000,
            "ms",
        ),
        *transitions,
    ]


def security_response(repeats: int) -> list[Row]:
    """From an intruder's call to the setting restored, against the same call on a bucket nobody watches.

    The intruder (an IAM user) suspends versioning of the data bucket; the trail, the rule and the
    responder turn it back on. Timed until versioning reads Enabled again, in wall time and in stack
    time; the baseline is the intruder's call alone, on a bucket outside the stack.
    """
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutBucketVersioning", "Resource": "*"}],
    }
    with LocalCloud.from_template(ROOT / "template.yaml") as cloud:
        cloud.client("iam").create_user(UserName="intruder")
        cloud.client("iam").put_user_policy(UserName="intruder", PolicyName="bench", PolicyDocument=json.dumps(policy))
        intruder = cloud.client("s3", principal=f"arn:aws:iam::{cloud.account_id}:user/intruder")
        admin = cloud.client("s3")
        guarded, unwatched = cloud.outputs["DataBucketName"], "bench-unwatched"
        admin.create_bucket(Bucket=unwatched)
        suspend = {"Status": "Suspended"}
        wall, stack, bare = [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            intruder.put_bucket_versioning(Bucket=unwatched, VersioningConfiguration=suspend)
            bare.append(time.perf_counter() - start)
            started_at, start = cloud.clock.now(), time.perf_counter()
            intruder.put_bucket_versioning(Bucket=guarded, VersioningConfiguration=suspend)
            cloud.run_until_idle()
            while admin.get_bucket_versioning(Bucket=guarded).get("Status") != "Enabled":
                time.sleep(0.001)
            wall.append(time.perf_counter() - start)
            stack.append((cloud.clock.now() - started_at).total_seconds())
    floor = statistics.median(bare) * 1000
    return [
        Row.measured(
            "security: intruder's call to the setting restored (wall time)", statistics.median(wall) * 1000, floor, "ms"
        ),
        Row.measured(
            "security: intruder's call to the setting restored (stack time)",
            statistics.median(stack) * 1000,
            floor,
            "ms",
        ),
    ]


def _edge_model() -> bytes:
    """``model.tar.gz`` of a model as the stack trains it by default (its NumRound, MaxDepth and Eta)."""
    parameters = load_sam_template(ROOT / "template.yaml")["Parameters"]
    hyperparameters = {
        "num_round": str(parameters["NumRound"]["Default"]),
        "max_depth": str(parameters["MaxDepth"]["Default"]),
        "eta": str(parameters["Eta"]["Default"]),
        "objective": "binary:logistic",
    }
    channel = csv_text(records(2000, 11), load_schema("predictive_maintenance").columns, header=False).encode()
    outcome = train(hyperparameters, {"train": [channel]}, checkpoint=lambda _: None, interrupt=False, now=datetime.now)
    return outcome.model_tarball


def edge_inference(repeats: int) -> list[Row]:
    """The edge component's compiled model against XGBoost itself, on the same model and rows.

    Latency: the median of many predictions of one row and of 1000 rows, through ctypes in process
    (what a device runs) against ``Booster.inplace_predict``. Size: the Neo stand-in's tarball per
    target against the ``xgboost-model`` tarball it was compiled from.
    """
    model_tarball = _edge_model()
    booster = load_model(model_tarball)
    schema = load_schema("predictive_maintenance")
    lines = csv_text(records(1000, 12), schema.columns, header=False).splitlines()
    rows = [[float(cell) for cell in line.split(",")[1:]] for line in lines]
    matrix = np.array(rows, dtype=np.float32)
    tarballs = {}
    for device in ("ml_c5", "rasp4b", "rasp3b"):
        target = resolve({"TargetDevice": device})
        if not target.architecture.missing_build_tools():
            tarballs[device] = compile_model(model_tarball, target).tarball
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as folder:
        compiled = CompiledModel.from_artifact(tarballs["ml_c5"], folder)
        one_row, one_matrix = rows[:1], matrix[:1]
        single = _timed(lambda: compiled.predict(one_row), repeats * 300)
        single_xgboost = _timed(lambda: booster.inplace_predict(one_matrix), repeats * 300)
        batch = _timed(lambda: compiled.predict(rows), repeats * 10)
        batch_xgboost = _timed(lambda: booster.inplace_predict(matrix), repeats * 10)
        # The same library with numpy buffers in and out (a second path: glibc loads one once)
        arrays = ArrayModel.from_artifact(tarballs["ml_c5"], Path(folder) / "arrays")
        batch_arrays = _timed(lambda: arrays.predict(matrix), repeats * 10)
    measured = [
        Row.measured(
            "edge: predict 1 row, compiled model via ctypes (vs XGBoost inplace_predict)",
            single * 1e6,
            single_xgboost * 1e6,
            "us",
        ),
        Row.measured(
            "edge: predict 1000 rows, compiled model via ctypes (vs XGBoost inplace_predict)",
            batch * 1e3,
            batch_xgboost * 1e3,
            "ms",
        ),
        Row.measured(
            "edge: predict 1000 rows, compiled model with numpy buffers (vs XGBoost inplace_predict)",
            batch_arrays * 1e3,
            batch_xgboost * 1e3,
            "ms",
        ),
    ]
    for device, tarball in tarballs.items():
        name = f"edge: compiled artifact for {device} (vs the xgboost-model tarball)"
        measured.append(Row.measured(name, len(tarball), len(model_tarball), "bytes", digits=0))
    return measured


def edge_release_transitions() -> list[Row]:
    """State transitions (Step Functions bills each, retries included) of one edge release of three
    targets to six devices, against the 150 it must stay within: the states a run on the local
    cloud entered, and the retries its own back-off makes for 15-minute compilations and a
    30-minute rollout (the local cloud's Neo and fleet are timed otherwise)."""
    group = "conveyor-dev-fleet"
    parameters = {
        "NumRound": "30",
        "MinNewRows": "1000000",
        "ApprovalMode": "manual",
        "EndpointEnabled": "false",
        "EdgeThingGroup": group,
        "EdgeTargets": "LINUX_X86_64,LINUX_ARM64,LINUX_ARM_EABIHF",
    }
    with LocalCloud.from_template(ROOT / "template.yaml", parameters=parameters) as cloud:
        for number, architecture in enumerate(["x86_64", "aarch64", "armv7l"] * 2):
            cloud.fleet.add(f"device-{number}", architecture=architecture, thing_group=group)
        _retraining_run(cloud, "run-000001")
        decide(cloud, "1", "Approved", "bench: edge release")
        sfn = cloud.client("stepfunctions")
        for _ in range(30):
            [execution] = stack.executions(cloud, "EdgeReleaseStateMachineArn") or [{"status": "RUNNING"}]
            if execution["status"] != "RUNNING":
                break
            cloud.advance(minutes=1)
        if execution.get("status") != "SUCCEEDED":
            raise RuntimeError(f"the benchmark's edge release did not succeed: {execution}")
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=execution["stateMachineArn"])["definition"])
    compiling = retrier(definition, "Wait for the compilation", "CompilationInProgressError")
    rolling_out = retrier(definition, "Watch the rollout", "RolloutInProgressError")
    total = entered(history) + 3 * backoff_retries(15 * 60, compiling) + backoff_retries(30 * 60, rolling_out)
    name = "edge: state transitions of one release, 3 targets, 15-minute compiles, 30-minute rollout (vs 150 allowed)"
    return [Row.measured(name, total, 150, "transitions", digits=0)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conveyor-bench", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("build/bench/results.json"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--cold-start-repeats",
        type=int,
        default=15,
        help="pairs of handler and floor runs per function (a cold start differs from the floor by tens of ms)",
    )
    parser.add_argument(
        "--cold-starts-only", action="store_true", help="measure only the functions' cold starts (to compare options)"
    )
    parser.add_argument("--edge-only", action="store_true", help="measure only the edge release and its inference")
    parser.add_argument("--demo-only", action="store_true", help="time only the demo, step by step")
    parser.add_argument(
        "--environment",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable every function gets for its cold start, to compare options (repeatable)",
    )
    args = parser.parse_args(argv)
    environment = dict(item.split("=", 1) for item in args.environment)
    if args.demo_only:
        return _write(demo_time(), args.output)
    edge = edge_inference(args.repeats) + edge_release_transitions()
    rows = edge if args.edge_only else cold_starts(args.cold_start_repeats, environment)
    if not (args.cold_starts_only or args.edge_only):
        rows += firehose_transform(args.repeats) + ingest_throughput(args.repeats) + drift_tracking(args.repeats)
        rows += run_start(args.repeats)
        rows += schema_migration()
        rows += upload_burst() + retraining_transitions()
        rows += security_response(args.repeats) + canary_release() + edge
        rows += demo_time()
    return _write(rows, args.output)


def demo_time() -> list[Row]:
    """The demo's wall time against its budget, and each of its parts against the whole."""
    return [
        Row.measured(name, value, base, "s", 1) for name, value, base in bench_demo.demo_time(ROOT / "template.yaml")
    ]


def _write(rows: list[Row], output: Path) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
    for row in rows:
        print(f"{row.name}: {row.value} {row.unit} vs {row.baseline} {row.unit} (x{row.ratio})")
    print(f"wrote {output}", file=sys.stderr)
    return 0
