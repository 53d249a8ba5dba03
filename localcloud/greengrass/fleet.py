"""A simulated fleet of Greengrass core devices (``cloud.fleet``) that really run what is deployed to them.

``cloud.fleet.add("edge-1", architecture="aarch64", thing_group="conveyor-dev-fleet")`` creates the
IoT thing (and the thing group when it does not exist yet), adds it to the group and registers its
core device with Greengrass (platform ``linux``; architecture ``amd64``, ``aarch64`` or ``arm`` as
the nucleus reports them). When a deployment's IoT job notifies a device
(:mod:`localcloud.greengrass.rollout`), the device downloads the artifacts and runs the lifecycle
of its platform's manifest (:mod:`localcloud.greengrass.device`).

A device of another architecture than this machine's cannot run this Python's native code, so its
scripts get ``CONVEYOR_NATIVE_RUNNER``: the command that runs a compiled model library of its
architecture here (``qemu-aarch64 -L /usr/aarch64-linux-gnu .../predict_csv-arm64``; append the
library, write CSV rows to its stdin). A device of this machine's own architecture gets no runner
and loads the library with ctypes. Every script gets ``CONVEYOR_DEVICE_ARCHITECTURE``.

Artifacts are read as the administrator, or as ``token_exchange_role`` when set (assumed by
``credentials.iot.amazonaws.com``, as the device's token exchange service does).
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError
from moto.core.exceptions import ServiceException
from moto.iot.models import iot_backends

from conveyor.aws import split_s3_uri
from localcloud.clients import Clients
from localcloud.clock import Clock
from localcloud.compilation import emulation
from localcloud.compilation.targets import ARCHITECTURES, ARM64, ARM_EABIHF, X86_64
from localcloud.greengrass.control import GreengrassV2Backend
from localcloud.greengrass.device import ArtifactError, Device, DeviceSettings, Report
from localcloud.greengrass.rollout import Rollouts
from localcloud.iam import DeniedError

DEFAULT_RUN_GRACE_SECONDS = 1.0
TOKEN_EXCHANGE_SERVICE = "credentials.iot.amazonaws.com"

# A device's architecture (``uname -m``): the Neo stand-in's name for it and the nucleus's.
ARCHITECTURES_BY_MACHINE = {"x86_64": (X86_64, "amd64"), "aarch64": (ARM64, "aarch64"), "armv7l": (ARM_EABIHF, "arm")}


class FleetError(Exception):
    """The fleet cannot add this device (an unknown architecture, a tool missing to emulate it)."""


@dataclass
class FleetFaults:
    """Faults devices suffer: ``cloud.fleet_faults``."""

    failing: set[str] = field(default_factory=set)
    """Devices whose next deployment fails: every lifecycle script exits 1, whatever the recipe says,
    as a component crashing on that device would (the rollback that follows runs normally)."""
    silent: set[str] = field(default_factory=set)
    """Devices that take deployments and never report: their executions time out."""


class FleetCloud(Clients, Protocol):
    """What the fleet uses of the running local cloud."""

    account_id: str
    region: str
    clock: Clock
    greengrass: GreengrassV2Backend | None
    fleet_faults: FleetFaults


class Fleet:
    """The simulated core devices, by thing name, and the rollouts of the jobs that reach them."""

    def __init__(self, cloud: FleetCloud) -> None:
        self._cloud = cloud
        self.devices: dict[str, Device] = {}
        self.run_grace_seconds = DEFAULT_RUN_GRACE_SECONDS
        """Wall seconds a Run script must stay up to count as RUNNING."""
        self.token_exchange_role: str | None = None
        """The role devices read artifacts as (None: the administrator)."""
        self.rollouts = Rollouts(lambda: cloud.clock.now().replace(tzinfo=None), self)
        """The IoT jobs rolling out (set going by the ``iot_jobs`` adapter)."""
        self._root: Path | None = None
        self._runners: dict[str, Path] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The folder under which each device has its own ``/greengrass/v2`` (``<root>/<thing>``)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="conveyor-fleet-"))
        return self._root

    def add(self, thing_name: str, architecture: str = "x86_64", thing_group: str | None = None) -> Device:
        """A core device online: its IoT thing (in ``thing_group``, created if missing) and Greengrass record."""
        if architecture not in ARCHITECTURES_BY_MACHINE:
            raise FleetError(f"unknown architecture {architecture!r}; use one of {', '.join(ARCHITECTURES_BY_MACHINE)}")
        backend = self._cloud.greengrass
        if backend is None:
            raise FleetError("the fleet needs the greengrassv2 adapter")
        neo_architecture, platform_architecture = ARCHITECTURES_BY_MACHINE[architecture]
        environment = {"CONVEYOR_DEVICE_ARCHITECTURE": architecture}
        if not ARCHITECTURES[neo_architecture].native:
            environment["CONVEYOR_NATIVE_RUNNER"] = shlex.join(self._runner_command(neo_architecture))
        groups = set()
        iot = iot_backends[self._cloud.account_id][self._cloud.region]
        thing = iot.create_thing(thing_name, "", None)
        if thing_group is not None:
            groups.add(iot.create_thing_group(thing_group, "", {})[1])
            iot.add_thing_to_thing_group(thing_group, None, thing.thing_name, None)
        record = backend.register_core_device(thing_name, groups, "linux", platform_architecture)
        settings = DeviceSettings(
            self._cloud.clock.now, lambda: self.run_grace_seconds, self._read_artifact, environment
        )
        platform = {"os": "linux", "architecture": platform_architecture}
        self.devices[thing_name] = device = Device(record, self.root / thing_name, platform, settings)
        return device

    def device(self, thing_name: str) -> Device:
        return self.devices[thing_name]

    def settle(self) -> None:
        """Bring every rollout, and so every device, up to stack time now."""
        self.rollouts.settle()

    def receive(self, job: Any, thing_names: list[str]) -> dict[str, Report | None]:
        """Devices notified of a Greengrass deployment's job apply it, all at once; others ignore it."""
        backend = self._cloud.greengrass
        deployment = next(
            (d for d in (backend.deployments if backend else {}).values() if d.iot_job_id == job.job_id), None
        )
        if backend is None or deployment is None:
            return {}
        recipes = {
            name: backend.components[backend.component_arn(name, spec["componentVersion"])].recipe
            for name, spec in deployment.components.items()
        }
        faults = self._cloud.fleet_faults
        present = [t for t in thing_names if t in self.devices]
        working = [t for t in present if t not in faults.silent]
        failing = {t for t in working if t in faults.failing}
        faults.failing -= failing
        reports: dict[str, Report | None] = {t: None for t in present if t in faults.silent}
        # Downloads here, in the thread of the request that looked at the job; scripts in parallel.
        prepared = {t: self.devices[t].prepare(deployment, recipes) for t in working}
        reports.update({t: p for t, p in prepared.items() if isinstance(p, Report)})
        ready = {t: p for t, p in prepared.items() if not isinstance(p, Report)}
        with ThreadPoolExecutor(max_workers=max(1, len(ready))) as pool:
            futures = {
                t: pool.submit(self.devices[t].apply, deployment, p, failing=t in failing) for t, p in ready.items()
            }
        reports.update({t: future.result() for t, future in futures.items()})
        return reports

    def stop(self) -> None:
        """Stop every device's components and remove their folders (the local cloud is closing).

        The rollouts close first: a device still applying a deployment for a request in another
        thread finishes before its folder goes, and nothing starts after."""
        self.rollouts.close()
        for device in self.devices.values():
            device.stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def _runner_command(self, neo_architecture: str) -> list[str]:
        """The command prefix that runs a library of ``neo_architecture`` here (its runner built once)."""
        missing = emulation.missing_tools(neo_architecture)
        if missing:
            raise FleetError(f"a {neo_architecture} device cannot be emulated here: {missing[0]}")
        with self._lock:
            if neo_architecture not in self._runners:
                folder = self.root / "runners"
                folder.mkdir(parents=True, exist_ok=True)
                self._runners[neo_architecture] = emulation.build_runner(neo_architecture, folder)
        command = emulation.command(neo_architecture, self._runners[neo_architecture], Path("library"))
        return command[:-1]

    def _read_artifact(self, uri: str) -> bytes:
        if not uri.startswith("s3://"):
            raise ArtifactError(f"{uri}: the local fleet downloads s3:// artifacts only")
        role = self.token_exchange_role
        s3 = (
            self._cloud.client("s3")
            if role is None
            else self._cloud.client("s3", principal=role, assumed_by=TOKEN_EXCHANGE_SERVICE)
        )
        bucket, key = split_s3_uri(uri)
        try:
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, DeniedError, ServiceException) as error:
            raise ArtifactError(f"cannot download {uri}: {error}") from error
        return body
