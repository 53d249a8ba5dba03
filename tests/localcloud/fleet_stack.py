"""Helpers for the fleet tests: a small stack with a fleet, a tiny component per platform, deployments."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from localcloud import LocalCloud
from localcloud.adapters import Adapter
from localcloud.greengrass.fleet import ARCHITECTURES_BY_MACHINE
from tests.localcloud.compilation_stack import BUCKET, compilation_cloud

GROUP = "edge-fleet"
GROUP_ARN = f"arn:aws:iot:us-east-1:123456789012:thinggroup/{GROUP}"
COMPONENT = "conveyor.Hello"
# The program the component's zip carries: it writes what it was given, so a test can read which
# manifest ran, with which configuration, on which device.
HELLO = b"import os, sys\nprint(' '.join(sys.argv[1:]), os.environ['CONVEYOR_DEVICE_ARCHITECTURE'])\n"


@contextmanager
def fleet_cloud(*, without: Sequence[Adapter] = ()) -> Iterator[LocalCloud]:
    """A small stack with the artifact bucket, the packaged model, and Run scripts up after 0.2 s."""
    with compilation_cloud(without=without) as cloud:
        cloud.fleet.run_grace_seconds = 0.2
        yield cloud


def add_devices(cloud: LocalCloud, *things: str) -> None:
    """Devices named ``<architecture>-<n>`` (``aarch64-1``) joined to the fleet's group, in this order."""
    for thing in things:
        cloud.fleet.add(thing, architecture=thing.rsplit("-", 1)[0], thing_group=GROUP)


def publish(cloud: LocalCloud, version: str, *, install: dict[str, str] | None = None) -> None:
    """``conveyor.Hello`` ``version``: one manifest per platform; each Install writes ``hello.txt``
    (platform, configured greeting, thing name) unless ``install`` replaces it for a platform."""
    key = f"greengrass/{COMPONENT}/{version}/hello.zip"
    cloud.client("s3").put_object(Bucket=BUCKET, Key=key, Body=_zipped({"hello.py": HELLO}))
    manifests = []
    for _, platform in ARCHITECTURES_BY_MACHINE.values():
        arguments = f"{platform} {{configuration:/Greeting}} {{iot:thingName}}"
        script = f"python3 {{artifacts:decompressedPath}}/hello/hello.py {arguments} > hello.txt"
        manifests.append(
            {
                "Platform": {"os": "linux", "architecture": platform},
                "Artifacts": [{"URI": f"s3://{BUCKET}/{key}", "Unarchive": "ZIP"}],
                "Lifecycle": {"Install": (install or {}).get(platform, script), "Run": "exec sleep 600"},
            }
        )
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": COMPONENT,
        "ComponentVersion": version,
        "ComponentConfiguration": {"DefaultConfiguration": {"Greeting": "hello"}},
        "Manifests": manifests,
    }
    created = cloud.client("greengrassv2").create_component_version(inlineRecipe=json.dumps(recipe).encode())
    assert created["status"]["componentState"] == "DEPLOYABLE", created


def deploy(cloud: LocalCloud, version: str, *, policy: str = "ROLLBACK", **job: Any) -> dict[str, Any]:
    """Deploy ``conveyor.Hello`` ``version`` to the group with ``job`` as its IoT job configuration."""
    deployment: dict[str, Any] = cloud.client("greengrassv2").create_deployment(
        targetArn=GROUP_ARN,
        deploymentName=f"hello {version}",
        components={COMPONENT: {"componentVersion": version}},
        iotJobConfiguration=job,
        deploymentPolicies={"failureHandlingPolicy": policy},
    )
    return deployment


def job(cloud: LocalCloud, job_id: str) -> dict[str, Any]:
    described: dict[str, Any] = cloud.client("iot").describe_job(jobId=job_id)["job"]
    return described


def executions(cloud: LocalCloud, job_id: str) -> dict[str, str]:
    """Each thing's execution status, by thing name."""
    listed = cloud.client("iot").list_job_executions_for_job(jobId=job_id)["executionSummaries"]
    return {e["thingArn"].rsplit("/", 1)[-1]: e["jobExecutionSummary"]["status"] for e in listed}


def installed(cloud: LocalCloud, thing: str) -> dict[str, tuple[str, str]]:
    """(version, lifecycle state) of each component the device reports, by name."""
    listed = cloud.client("greengrassv2").list_installed_components(coreDeviceThingName=thing)
    return {c["componentName"]: (c["componentVersion"], c["lifecycleState"]) for c in listed["installedComponents"]}


def counts(described: dict[str, Any]) -> dict[str, int]:
    """The non-zero counts of a job's ``jobProcessDetails``."""
    details = described["jobProcessDetails"]
    return {
        k.removeprefix("numberOf").removesuffix("Things"): v
        for k, v in details.items()
        if k.startswith("numberOf") and v
    }


def _zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()
