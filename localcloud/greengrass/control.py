"""An emulated AWS IoT Greengrass v2 control plane: components, deployments, core devices.

Moto has only Greengrass v1. This backend keeps v2's resources and rules; the HTTP side (routing,
validation against botocore's model, serialisation) is ``localcloud.adapters.greengrassv2``.
A deployment creates its IoT job in moto's IoT backend, as Greengrass does in the account; the
simulated fleet (:mod:`localcloud.greengrass.fleet`) registers its core devices here
(``register_core_device``) and reports what each one runs on its record.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from moto.iot.models import iot_backends

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


class GreengrassError(Exception):
    """An error Greengrass v2 answers with: its code, HTTP status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass
class ComponentVersion:
    arn: str
    name: str
    version: str
    recipe: dict[str, Any]
    recipe_bytes: bytes
    created: datetime
    state: str
    errors: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def platforms(self) -> list[dict[str, Any]]:
        return [{"attributes": m.get("Platform", {})} for m in self.recipe.get("Manifests", [])]

    def status(self) -> dict[str, Any]:
        message = "NONE" if self.state == "DEPLOYABLE" else "Artifacts could not be validated."
        return {"componentState": self.state, "message": message, "errors": self.errors}


@dataclass
class Deployment:
    deployment_id: str
    deployment_name: str
    target_arn: str
    components: dict[str, Any]
    iot_job_configuration: dict[str, Any]
    deployment_policies: dict[str, Any]
    created: datetime
    iot_job_id: str
    iot_job_arn: str
    revision_id: str
    parent_target_arn: str | None = None
    status: str = "ACTIVE"
    is_latest_for_target: bool = True
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class InstalledComponent:
    """A component as its core device reports it (ListInstalledComponents)."""

    name: str
    version: str
    lifecycle_state: str
    """RUNNING, FINISHED, ERRORED or BROKEN."""
    deployment_id: str
    """The deployment that brought this version (``lastInstallationSource``)."""
    changed: datetime
    details: str = ""


@dataclass
class CoreDevice:
    thing_name: str
    thing_group_arns: set[str]
    platform: str
    architecture: str
    core_version: str = "2.14.0"
    status: str = "HEALTHY"
    last_status_update: datetime | None = None
    components: dict[str, InstalledComponent] = field(default_factory=dict)
    """What the device last reported it runs, by component name."""


class GreengrassV2Backend:
    """Greengrass v2 resources of one account and region."""

    def __init__(
        self,
        account_id: str,
        region: str,
        now: Callable[[], datetime],
        artifact_exists: Callable[[str], bool],
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self._now = now
        self._artifact_exists = artifact_exists
        self.settle = settle
        """Brings the fleet's reports up to stack time; called before every read of device state."""
        self.components: dict[str, ComponentVersion] = {}
        self.deployments: dict[str, Deployment] = {}
        self.core_devices: dict[str, CoreDevice] = {}

    def component_arn(self, name: str, version: str | None = None) -> str:
        base = f"arn:aws:greengrass:{self.region}:{self.account_id}:components:{name}"
        return f"{base}:versions:{version}" if version else base

    def create_component_version(self, inline_recipe: bytes, tags: dict[str, str] | None = None) -> ComponentVersion:
        recipe = self._parse_recipe(inline_recipe)
        name, version = recipe["ComponentName"], recipe["ComponentVersion"]
        arn = self.component_arn(name, version)
        if arn in self.components:
            raise GreengrassError("ConflictException", 409, f"Component {name} version {version} already exists.")
        errors = {
            artifact["URI"]: "The artifact does not exist or cannot be read."
            for manifest in recipe.get("Manifests", [])
            for artifact in manifest.get("Artifacts", [])
            if not self._artifact_exists(artifact["URI"])
        }
        component = ComponentVersion(
            arn=arn,
            name=name,
            version=version,
            recipe=recipe,
            recipe_bytes=inline_recipe,
            created=self._now(),
            state="FAILED" if errors else "DEPLOYABLE",
            errors=errors,
            tags=tags or {},
        )
        self.components[arn] = component
        return component

    @staticmethod
    def _parse_recipe(inline_recipe: bytes) -> dict[str, Any]:
        try:
            text = inline_recipe.decode("utf-8")
            recipe = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
            raise GreengrassError(
                "ValidationException", 400, f"The recipe is neither JSON nor YAML: {error}"
            ) from error
        if not isinstance(recipe, dict):
            raise GreengrassError("ValidationException", 400, "The recipe must be a JSON or YAML object.")
        for key in ("RecipeFormatVersion", "ComponentName", "ComponentVersion"):
            if not recipe.get(key):
                raise GreengrassError("ValidationException", 400, f"The recipe has no {key}.")
        if not _SEMVER.match(str(recipe["ComponentVersion"])):
            raise GreengrassError(
                "ValidationException",
                400,
                f"ComponentVersion {recipe['ComponentVersion']!r} is not semantic.",
            )
        return recipe

    def component(self, arn: str) -> ComponentVersion:
        if arn not in self.components:
            raise GreengrassError("ResourceNotFoundException", 404, f"Component {arn} was not found.")
        return self.components[arn]

    def component_versions(self, component_arn: str) -> list[ComponentVersion]:
        return [c for arn, c in self.components.items() if arn.startswith(f"{component_arn}:versions:")]

    def create_deployment(
        self,
        *,
        target_arn: str,
        components: dict[str, Any],
        deployment_name: str | None = None,
        iot_job_configuration: dict[str, Any] | None = None,
        deployment_policies: dict[str, Any] | None = None,
        parent_target_arn: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Deployment:
        for name, spec in components.items():
            arn = self.component_arn(name, spec.get("componentVersion"))
            if self.components.get(arn, None) is None or self.components[arn].state != "DEPLOYABLE":
                raise GreengrassError(
                    "ResourceNotFoundException",
                    404,
                    f"Component {name} {spec.get('componentVersion')} is not deployable.",
                )
        for previous in self.deployments.values():
            if previous.target_arn == target_arn:
                previous.is_latest_for_target = False
                self._supersede(previous)
        deployment_id = str(uuid.uuid4())
        job_id = str(uuid.uuid4())
        deployment = Deployment(
            deployment_id=deployment_id,
            deployment_name=deployment_name or f"Deployment for {target_arn.rsplit('/', 1)[-1]}",
            target_arn=target_arn,
            components=components,
            iot_job_configuration=iot_job_configuration or {},
            deployment_policies=deployment_policies or {"failureHandlingPolicy": "ROLLBACK"},
            created=self._now(),
            iot_job_id=job_id,
            iot_job_arn=f"arn:aws:iot:{self.region}:{self.account_id}:job/{job_id}",
            revision_id=str(1 + sum(d.target_arn == target_arn for d in self.deployments.values())),
            parent_target_arn=parent_target_arn,
            tags=tags or {},
        )
        self.deployments[deployment_id] = deployment
        self._create_job(deployment)
        return deployment

    def _create_job(self, deployment: Deployment) -> None:
        """The deployment's IoT job: continuous for a thing group (devices that join later get it), a
        snapshot for one thing, with the deployment's rollout, abort and timeout configuration."""
        configuration = deployment.iot_job_configuration
        iot_backends[self.account_id][self.region].create_job(
            job_id=deployment.iot_job_id,
            targets=[deployment.target_arn],
            document_source=None,  # type: ignore[arg-type]  # moto's hint; the document is inline
            document=json.dumps({"deploymentId": deployment.deployment_id, "components": deployment.components}),
            description=f"Greengrass deployment {deployment.deployment_name}",
            presigned_url_config={},
            target_selection="CONTINUOUS" if ":thinggroup/" in deployment.target_arn else "SNAPSHOT",
            job_executions_rollout_config=configuration.get("jobExecutionsRolloutConfig", {}),
            document_parameters={},
            abort_config=configuration.get("abortConfig", {}),
            job_execution_retry_config={},
            scheduling_config={},
            timeout_config=configuration.get("timeoutConfig", {}),
        )

    def _supersede(self, previous: Deployment) -> None:
        """A new revision for the target replaces ``previous``: it becomes INACTIVE and its job stops."""
        if previous.status == "ACTIVE":
            previous.status = "INACTIVE"
            self._cancel_job(previous, "Superseded by a new deployment revision for the target.")

    def cancel_deployment(self, deployment_id: str) -> Deployment:
        """CancelDeployment: the deployment is CANCELED and its IoT job canceled; devices keep what they run."""
        deployment = self.deployment(deployment_id)
        if deployment.status != "ACTIVE":
            raise GreengrassError(
                "ConflictException",
                409,
                f"Deployment {deployment_id} is {deployment.status}; only an active one can be canceled.",
            )
        deployment.status = "CANCELED"
        self._cancel_job(deployment, "The deployment was canceled.")
        return deployment

    def _cancel_job(self, deployment: Deployment, comment: str) -> None:
        iot = iot_backends[self.account_id][self.region]
        job = iot.jobs.get(deployment.iot_job_id)
        if job is not None and job.status not in ("CANCELED", "COMPLETED"):
            iot.cancel_job(job_id=job.job_id, reason_code=None, comment=comment, force=True)  # type: ignore[arg-type]

    def deployment(self, deployment_id: str) -> Deployment:
        self.settle()
        if deployment_id not in self.deployments:
            raise GreengrassError("ResourceNotFoundException", 404, f"Deployment {deployment_id} was not found.")
        return self.deployments[deployment_id]

    def list_deployments(self, target_arn: str | None = None, history_filter: str = "LATEST_ONLY") -> list[Deployment]:
        found = [d for d in self.deployments.values() if target_arn in (None, d.target_arn)]
        return [d for d in found if history_filter == "ALL" or d.is_latest_for_target]

    def register_core_device(
        self,
        thing_name: str,
        thing_group_arns: set[str],
        platform: str = "linux",
        architecture: str = "aarch64",
    ) -> CoreDevice:
        """A device of a simulated fleet comes online (Greengrass has no API for this)."""
        device = CoreDevice(thing_name, set(thing_group_arns), platform, architecture, last_status_update=self._now())
        self.core_devices[thing_name] = device
        return device

    def core_device(self, thing_name: str) -> CoreDevice:
        self.settle()
        if thing_name not in self.core_devices:
            raise GreengrassError("ResourceNotFoundException", 404, f"Core device {thing_name} was not found.")
        return self.core_devices[thing_name]

    def list_core_devices(self, thing_group_arn: str | None = None, status: str | None = None) -> list[CoreDevice]:
        self.settle()
        return [
            d
            for d in self.core_devices.values()
            if (thing_group_arn is None or thing_group_arn in d.thing_group_arns) and status in (None, d.status)
        ]


def recipe_text(component: ComponentVersion, output_format: str | None) -> bytes:
    """The component's recipe in the requested format (JSON by default)."""
    if output_format == "YAML":
        return str(yaml.safe_dump(component.recipe)).encode()
    return json.dumps(component.recipe).encode()
