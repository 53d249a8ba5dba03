"""The demo's fleet: simulated Greengrass core devices of each architecture the machine can build
for, in the stack's thing group, and each edge release watched device by device as it rolls out."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from conveyor_tools.demo import observe
from conveyor_tools.demo.errors import DemoFailedError
from conveyor_tools.demo.progress import Progress
from localcloud.cloud import LocalCloud
from localcloud.compilation import emulation
from localcloud.compilation.targets import ARM64, ARM_EABIHF

GROUP = "conveyor-demo-fleet"
# Each device's architecture, with the Neo target its build is compiled for.
DEVICES = {
    "gw-x86-1": ("x86_64", "LINUX_X86_64"),
    "pi-arm64-1": ("aarch64", "LINUX_ARM64"),
    "pi-armv7-1": ("armv7l", "LINUX_ARM_EABIHF"),
    "gw-x86-2": ("x86_64", "LINUX_X86_64"),
}
EMULATED = {"aarch64": ARM64, "armv7l": ARM_EABIHF}
TOKEN_EXCHANGE_ROLE = "GreengrassV2TokenExchangeRole"
ROLLOUT_MINUTES = 20


def missing_tools() -> list[str]:
    """What this machine lacks to build for the ARM devices and run them (nothing: it has it all)."""
    return [str(problem) for arch in EMULATED.values() for problem in emulation.missing_tools(arch)]


def devices() -> dict[str, tuple[str, str]]:
    """The fleet this machine can simulate: every device, or only the x86_64 ones without the ARM tools."""
    if missing_tools():
        return {name: device for name, device in DEVICES.items() if device[0] == "x86_64"}
    return DEVICES


def parameters() -> dict[str, str]:
    """The template parameters of the fleet: its thing group, its targets and a quick staged rollout."""
    targets = sorted({target for _, target in devices().values()}, key=list(dict(DEVICES.values()).values()).index)
    return {
        "EdgeThingGroup": GROUP,
        "EdgeTargets": ",".join(targets),
        "EdgeRolloutBaseRatePerMinute": "2",
        "EdgeRolloutIncrementFactor": "2",
        "EdgeRolloutIncreaseAfterSucceeded": "2",
        "EdgeAbortFailurePercent": "20",
        "EdgeAbortMinDevices": "2",
    }


class Fleet:
    """The devices, joined to the stack's thing group as an operator's Greengrass installs would join them."""

    def __init__(self, cloud: LocalCloud, progress: Progress, announcements: observe.Announcements) -> None:
        self.cloud, self.progress, self.announcements = cloud, progress, announcements
        self.releases: list[dict[str, Any]] = []
        self.component = f"{cloud.parameters['ProjectName']}-{cloud.parameters['Stage']}-inference"
        trust = {
            "Effect": "Allow",
            "Principal": {"Service": "credentials.iot.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
        iam = cloud.client("iam")
        role = iam.create_role(
            RoleName=TOKEN_EXCHANGE_ROLE,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        )
        iam.attach_role_policy(RoleName=TOKEN_EXCHANGE_ROLE, PolicyArn=cloud.outputs["EdgeDeviceArtifactPolicyArn"])
        cloud.fleet.token_exchange_role = role["Role"]["Arn"]
        cloud.fleet.run_grace_seconds = 0.2
        for thing, (architecture, _) in devices().items():
            cloud.fleet.add(thing, architecture=architecture, thing_group=GROUP)

    def summary(self) -> dict[str, Any]:
        """The fleet: each device's architecture, the targets compiled, and what this machine lacked."""
        return {
            "devices": {thing: architecture for thing, (architecture, _) in devices().items()},
            "targets": parameters()["EdgeTargets"].split(","),
            "missing": missing_tools(),
        }

    def describe(self) -> str:
        listed = ", ".join(f"{thing} ({arch})" for thing, (arch, _) in devices().items())
        missing = missing_tools()
        return listed + (f"; no ARM devices: {missing[0]} (`.ci/run` installs what is missing)" if missing else "")

    def roll_out(self, version: int, rows: list[list[Any]]) -> dict[str, Any]:
        """Advance stack time a minute at a time until the edge release of package ``version`` ends,
        counting devices per state; then, if ``rows``, ask a device of each architecture to predict them."""
        name, began, timeline = f"package-{version}", self.cloud.clock.now(), []
        for _ in range(ROLLOUT_MINUTES):
            self.cloud.deliveries.settle()
            status = observe.execution_status(self.cloud, "edge_release", name)
            seconds = (self.cloud.clock.now() - began).total_seconds()
            timeline.append((round(seconds), observe.device_states(self.cloud, self.component)))
            if status not in (None, "RUNNING"):
                break
            self.cloud.advance(minutes=1)
        else:
            raise DemoFailedError(f"the edge release of package {version} still runs after {ROLLOUT_MINUTES} minutes")
        self.cloud.deliveries.settle()
        component_version = self.new_version(version)
        release = {
            "package_version": version,
            "component_version": component_version or "none",
            "status": status,
            "outcome": self.outcome(version),
            "devices": self.states(component_version, observe.device_states(self.cloud, self.component)),
            "timeline": [{"seconds": s, "devices": self.states(component_version, seen)} for s, seen in timeline],
        }
        self.releases.append(release)
        self.progress.detail(f"fleet: {self.describe()}")
        self.progress.detail(f"edge release {name}: {release['outcome']}; devices {release['devices']}")
        if rows and release["outcome"] == "rolled out":
            for thing, (architecture, _) in devices().items():
                if thing.endswith("-1"):
                    work = self.cloud.fleet.device(thing).work(self.component)
                    predicted = predictions(work, f"package-{version}", rows)
                    self.progress.detail(f"  {thing} ({architecture}) predicts {[round(p, 3) for p in predicted]}")
        return release

    def new_version(self, version: int) -> str | None:
        """The component version package ``version`` published, if it published one."""
        finished = self.announcements.of(version, "Edge Deployment Finished")
        return str(finished[0]["component_version"]) if finished else None

    def outcome(self, version: int) -> str:
        if self.announcements.of(version, "Release Stopped"):
            return "stopped"
        finished = self.announcements.of(version, "Edge Deployment Finished")
        return "rolled out" if finished and finished[0]["status"] == "COMPLETED" else "failed"

    @staticmethod
    def states(component_version: str | None, seen: dict[str, dict[str, int]]) -> dict[str, int]:
        """Devices per state of ``component_version``; the others by the version they run ("on 1.1.0"), or NONE."""
        counts: dict[str, int] = {}
        for version, states in seen.items():
            for state, count in states.items():
                key = state if version == component_version else f"on {version}" if version != "none" else "NONE"
                counts[key] = counts.get(key, 0) + count
        return counts

    def running_version(self) -> str:
        versions = observe.device_states(self.cloud, self.component)
        return ", ".join(sorted(v for v, states in versions.items() if "RUNNING" in states)) or "none"


def predictions(work: Path, name: str, rows: list[list[Any]], timeout: float = 60.0) -> list[float]:
    """Drop ``rows`` as readings file ``name`` in a device's component work folder; the predictions it writes."""
    readings = work / "readings"
    readings.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    (readings / f".{name}.csv").write_text(text.getvalue())
    (readings / f".{name}.csv").rename(readings / f"{name}.csv")
    output = work / "predictions" / f"{name}.csv.jsonl"
    deadline = time.monotonic() + timeout
    while not output.exists():
        if time.monotonic() > deadline:
            raise DemoFailedError(f"no predictions in {output} after {timeout} s")
        time.sleep(0.02)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    return [float(line["prediction"]) for line in sorted(lines, key=lambda line: line["line"])]
