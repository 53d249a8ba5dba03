"""The demo: the whole loop of what exists so far, on the local cloud, with progress on the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcloud.cloud import LocalCloud


class DemoFailedError(Exception):
    """A step of the demo did not end as described."""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(template: Path, summary_path: Path) -> dict[str, Any]:
    """Deploy the stack locally and walk through each capability; return and write the summary."""
    say(f"Deploying {template} into the local cloud (samtranslator + moto, no AWS account)")
    with LocalCloud.from_template(template) as cloud:
        for name, value in sorted(cloud.outputs.items()):
            print(f"    {name:<24} {value}")
        say("Invoking the health function through the Lambda API")
        response = cloud.client("lambda").invoke(FunctionName=cloud.outputs["HealthFunctionName"])
        health = json.loads(response["Payload"].read())
        if "FunctionError" in response or health.get("version") != cloud.outputs["Version"]:
            raise DemoFailedError(f"health check failed: {health}")
        print(f"    stack version {health['version']}, stage {health['stage']}: {health['status']}")
        summary: dict[str, Any] = {
            "stack": cloud.stack_name,
            "version": health["version"],
            "health": health["status"],
            "executions": [],
            "models": [],
        }
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"Summary written to {summary_path}")
    return summary
