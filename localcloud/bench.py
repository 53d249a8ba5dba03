"""``conveyor-bench``: benchmarks, each reported against a baseline measured in the same run.

Rows of ``build/bench/results.json``: ``{"name", "value", "unit", "baseline", "ratio"}`` with
``ratio = value / baseline``. Machines are shared and noisy, so each figure is the median of
several fresh runs and only the ratio is meant to be compared across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from localcloud.template import load_sam_template

ROOT = Path(__file__).resolve().parent.parent
# Services a function reaches only through the runtime, not with clients of its own.
RUNTIME_SERVICES = {"logs", "xray", "kms"}

_CLIENTS = "import boto3\nfor service in {services!r}:\n    boto3.client(service)\n"
_TIMED = "import time\nstart = time.perf_counter()\n{body}\nprint(time.perf_counter() - start)\n"


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    baseline: float
    ratio: float


def measure(body: str, env: dict[str, str], repeats: int) -> float:
    """Median seconds that ``body`` takes in a fresh interpreter, interpreter start-up excluded."""
    samples = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, "-c", _TIMED.format(body=body)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
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
        if statement["Effect"] == "Allow"
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    ]
    return sorted({action.split(":")[0] for action in actions} - RUNTIME_SERVICES)


def function_environment(template: dict[str, Any], function: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables, with placeholders where the template resolves values."""
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **function["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return {name: value if isinstance(value, str) else f"bench-{name.lower()}" for name, value in variables.items()}


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
        rows.append(
            Row(
                name=f"cold start: {logical_id} (import handler + create {', '.join(services)} clients)",
                value=round(value * 1000, 2),
                unit="ms",
                baseline=round(baseline * 1000, 2),
                ratio=round(value / baseline, 3),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conveyor-bench", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("build/bench/results.json"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rows = cold_starts(args.repeats)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
    for row in rows:
        print(f"{row.name}: {row.value} {row.unit} vs {row.baseline} {row.unit} (x{row.ratio})")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
