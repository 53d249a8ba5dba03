"""One simulated Greengrass core device: it downloads a deployment's artifacts and really runs its components.

Its files are laid out as the nucleus lays out ``/greengrass/v2`` under the device's own folder:
``packages/artifacts/<component>/<version>/``, ``packages/artifacts-unarchived/<component>/<version>/``
(``"Unarchive": "ZIP"`` artifacts, each in a folder named after the zip), ``work/<component>/`` (the
scripts' working folder) and ``logs/<component>.log`` (what the scripts print). Each lifecycle script
runs with ``sh -c``; ``python3`` on its PATH is the interpreter running the local cloud. ``Install``
must exit 0 within its ``Timeout``; ``Run`` counts as RUNNING once it has stayed up for
``run_grace_seconds`` of wall time (FINISHED if it exited 0 before, BROKEN if it failed); ``Startup``
must exit 0. A failed component is rolled back to the version the device ran before when the
deployment's ``failureHandlingPolicy`` is ROLLBACK, and left BROKEN with DO_NOTHING.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from localcloud.greengrass.control import CoreDevice, Deployment, InstalledComponent
from localcloud.greengrass.recipe import (
    Paths,
    RecipeError,
    Step,
    configuration,
    lifecycle,
    manifest_for,
    step,
    substitute,
)

STOP_SECONDS = 5.0
"""How long a stopped Run process has after SIGTERM before it is killed."""
BROKEN_STATES = frozenset({"BROKEN", "ERRORED"})


class ArtifactError(Exception):
    """An artifact cannot be downloaded (missing, or the device may not read it)."""


@dataclass(frozen=True)
class Report:
    """What a device reports for a deployment's job execution: SUCCEEDED or FAILED, and its statusDetails."""

    status: str
    details: dict[str, str]


@dataclass(frozen=True)
class Plan:
    """One component version, resolved for one device: what to run, where, and with which environment."""

    name: str
    version: str
    deployment_id: str
    paths: Paths
    install: Step | None
    run: Step | None
    startup: Step | None
    environment: dict[str, str]


@dataclass
class _Running:
    plan: Plan
    process: subprocess.Popen[bytes] | None = None


@dataclass
class DeviceSettings:
    """What every device of a fleet shares: the stack's clock and how long a Run must stay up."""

    now: Callable[[], datetime]
    run_grace_seconds: Callable[[], float]
    """Wall seconds a Run script must stay up to count as RUNNING (the fleet's current setting)."""
    read_artifact: Callable[[str], bytes]
    """The bytes of an artifact by URI (``s3://bucket/key``); raises :class:`ArtifactError`."""
    environment: dict[str, str] = field(default_factory=dict)
    """Variables every lifecycle script of the device gets (the native runner, its architecture)."""


class Device:
    """A core device of the simulated fleet, reporting on its record in the Greengrass control plane."""

    def __init__(self, record: CoreDevice, root: Path, platform: dict[str, str], settings: DeviceSettings) -> None:
        self.thing_name = record.thing_name
        self.root = root
        """The device's ``/greengrass/v2``."""
        self.platform = platform
        """``os`` and ``architecture`` as the nucleus reports them and recipes match them."""
        self.record = record
        self._settings = settings
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def work(self, component: str) -> Path:
        """The working folder of ``component``'s scripts."""
        return self.root / "work" / component

    def log(self, component: str) -> Path:
        """What ``component``'s scripts printed."""
        return self.root / "logs" / f"{component}.log"

    def prepare(self, deployment: Deployment, recipes: dict[str, dict[str, Any]]) -> list[Plan] | Report:
        """Resolve each component of ``deployment`` (recipes by name) for this device and download its
        artifacts; a failure report (nothing changed) when it cannot. Downloads are requests to the
        emulation: the caller makes them from its own thread."""
        try:
            return [self._prepare(deployment, recipes[name]) for name in sorted(deployment.components)]
        except (RecipeError, ArtifactError) as error:
            return _failed("FAILED_NO_STATE_CHANGE", str(error))

    def apply(self, deployment: Deployment, plans: list[Plan], *, failing: bool = False) -> Report:
        """Run the prepared components; ``failing`` makes every script exit 1. Rolls back on failure
        when the deployment's ``failureHandlingPolicy`` is ROLLBACK."""
        with self._lock:
            previous = {plan.name: self._running.get(plan.name) for plan in plans}
            for index, plan in enumerate(plans):
                error = self._start(plan, failing=failing)
                if error is None:
                    continue
                if deployment.deployment_policies.get("failureHandlingPolicy", "ROLLBACK") != "ROLLBACK":
                    return _failed("FAILED_ROLLBACK_NOT_REQUESTED", error)
                restored = self._roll_back(plans[: index + 1], previous)
                return _failed("FAILED_ROLLBACK_COMPLETE" if restored else "FAILED_UNABLE_TO_ROLLBACK", error)
            return Report("SUCCEEDED", {"detailed-deployment-status": "SUCCESSFUL"})

    def stop(self) -> None:
        """Stop every running component (the local cloud is closing)."""
        with self._lock:
            for running in self._running.values():
                _terminate(running.process)
                running.process = None

    def _prepare(self, deployment: Deployment, recipe: dict[str, Any]) -> Plan:
        """Resolve the manifest for this device, download (and unarchive) its artifacts."""
        name, version = recipe["ComponentName"], recipe["ComponentVersion"]
        manifest = manifest_for(recipe, self.platform)
        paths = Paths(
            self.root / "packages" / "artifacts" / name / version,
            self.root / "packages" / "artifacts-unarchived" / name / version,
            self.work(name),
        )
        for artifact in manifest.get("Artifacts", []):
            self._download(artifact, paths)
        config = configuration(recipe, deployment.components[name].get("configurationUpdate"))

        def resolved(found: Step | None) -> Step | None:
            if found is None:
                return None
            setenv = {k: substitute(v, paths, config, self.thing_name) for k, v in found.setenv.items()}
            return Step(substitute(found.script, paths, config, self.thing_name), setenv, found.timeout)

        phases = lifecycle(recipe, manifest)
        environment = {
            **self._environment(),
            **{k: substitute(str(v), paths, config, self.thing_name) for k, v in (phases.get("Setenv") or {}).items()},
        }
        return Plan(
            name,
            version,
            deployment.deployment_id,
            paths,
            resolved(step(phases, "Install")),
            resolved(step(phases, "Run")),
            resolved(step(phases, "Startup")),
            environment,
        )

    def _download(self, artifact: dict[str, Any], paths: Paths) -> None:
        uri = str(artifact["URI"])
        target = paths.artifacts / uri.rsplit("/", 1)[-1]
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._settings.read_artifact(uri))
        if artifact.get("Permission", {}).get("Execute") in ("OWNER", "ALL"):
            target.chmod(0o755)
        if str(artifact.get("Unarchive", "NONE")).upper() == "ZIP":
            try:
                with zipfile.ZipFile(target) as archive:
                    archive.extractall(paths.decompressed / target.name.removesuffix(".zip"))
            except zipfile.BadZipFile as error:
                raise ArtifactError(f"{uri} is not a zip archive: {error}") from error

    def _environment(self) -> dict[str, str]:
        interpreter = str(Path(sys.executable).parent)
        inherited = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR", "OMP_NUM_THREADS") if k in os.environ}
        return {
            **inherited,
            "PATH": f"{interpreter}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "AWS_IOT_THING_NAME": self.thing_name,
            **self._settings.environment,
        }

    def _start(self, plan: Plan, *, failing: bool = False) -> str | None:
        """Stop the version running now and start ``plan``; return why it failed, or None."""
        current = self._running.get(plan.name)
        if current is not None and replace(current.plan, deployment_id=plan.deployment_id) == plan and not failing:
            current.plan = plan
            return None
        if current is not None:
            _terminate(current.process)
        self._running[plan.name] = running = _Running(plan)
        plan.paths.work.mkdir(parents=True, exist_ok=True)
        self.log(plan.name).parent.mkdir(parents=True, exist_ok=True)
        error = self._complete(plan, plan.install, "Install", failing)
        state = "FINISHED"
        if error is None and plan.startup is not None:
            error, state = self._complete(plan, plan.startup, "Startup", failing), "RUNNING"
        elif error is None and plan.run is not None:
            error, state = self._launch(plan, plan.run, running, failing)
        self._report(plan, "BROKEN" if error else state, error or "")
        return error

    def _complete(self, plan: Plan, found: Step | None, phase: str, failing: bool) -> str | None:
        """Run a step to its end; return why it failed, or None."""
        if found is None:
            return None
        with self.log(plan.name).open("ab") as log:
            process = self._spawn(plan, found, phase, failing, log)
            try:
                code = process.wait(timeout=found.timeout)
            except subprocess.TimeoutExpired:
                _terminate(process)
                return f"{plan.name} {plan.version}: {phase} timed out after {found.timeout:g} s"
        return None if code == 0 else f"{plan.name} {plan.version}: {phase} exited {code}"

    def _launch(self, plan: Plan, found: Step, running: _Running, failing: bool) -> tuple[str | None, str]:
        """Start the Run step; it is RUNNING once it stays up for the grace period."""
        with self.log(plan.name).open("ab") as log:
            process = self._spawn(plan, found, "Run", failing, log)
        try:
            code = process.wait(timeout=self._settings.run_grace_seconds())
        except subprocess.TimeoutExpired:
            running.process = process
            return None, "RUNNING"
        return (None, "FINISHED") if code == 0 else (f"{plan.name} {plan.version}: Run exited {code}", "BROKEN")

    def _spawn(self, plan: Plan, found: Step, phase: str, failing: bool, log: IO[bytes]) -> subprocess.Popen[bytes]:
        log.write(f"[{self._settings.now().isoformat()}] {plan.name} {plan.version} {phase}\n".encode())
        log.flush()
        script = "exit 1" if failing else found.script
        return subprocess.Popen(
            ["sh", "-c", script],
            cwd=plan.paths.work,
            env={**plan.environment, **found.setenv},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def _roll_back(self, attempted: list[Plan], previous: dict[str, _Running | None]) -> bool:
        """Put back what ran before ``attempted``; False if a previous version fails to start again."""
        restored = True
        for plan in attempted:
            before = previous.get(plan.name)
            if before is None:
                _terminate(self._running.pop(plan.name).process)
                self.record.components.pop(plan.name, None)
            else:
                self._running.pop(plan.name, None)
                restored = self._start(before.plan) is None and restored
        self._refresh_status()
        return restored

    def _report(self, plan: Plan, state: str, details: str) -> None:
        now = self._settings.now()
        self.record.components[plan.name] = InstalledComponent(
            plan.name, plan.version, state, plan.deployment_id, now, details
        )
        self._refresh_status()

    def _refresh_status(self) -> None:
        broken = any(c.lifecycle_state in BROKEN_STATES for c in self.record.components.values())
        self.record.status = "UNHEALTHY" if broken else "HEALTHY"
        self.record.last_status_update = self._settings.now()


def _failed(detailed_status: str, cause: str) -> Report:
    return Report("FAILED", {"detailed-deployment-status": detailed_status, "deployment-failure-cause": cause})


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a script and whatever it started (its process group)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
