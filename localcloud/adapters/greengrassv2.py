"""Gap: moto has no AWS IoT Greengrass v2 (every v2 call answers 404 "Not yet implemented").

Fix: requests to Greengrass v2's endpoint are routed, by botocore's model of the service, to the
emulated control plane in ``localcloud.greengrass``. Each request is validated against the
operation's input shape, as the service does, and answered in the service's wire format.
Implemented: CreateComponentVersion, GetComponent, DescribeComponent, ListComponentVersions,
CreateDeployment, GetDeployment, ListDeployments, CancelDeployment, ListCoreDevices, GetCoreDevice,
ListInstalledComponents, ListEffectiveDeployments (what the simulated fleet's devices report, brought
up to stack time first). Any other operation answers 501 with its name. The fleet's devices stop
when the local cloud closes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from moto.core.botocore_stubber import BotocoreStubber
from moto.iot.models import iot_backends

from conveyor.aws import split_s3_uri
from localcloud.greengrass.control import (
    ComponentVersion,
    Deployment,
    GreengrassError,
    GreengrassV2Backend,
    recipe_text,
)

if TYPE_CHECKING:
    from localcloud.interface import Cloud

_MODEL = botocore.session.get_session().get_service_model("greengrassv2")
Response = tuple[int, dict[str, str], bytes]


def _route(operation: OperationModel) -> re.Pattern[str]:
    template = operation.http["requestUri"].split("?")[0]
    pattern = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


ROUTES = [(operation, _route(operation)) for operation in map(_MODEL.operation_model, _MODEL.operation_names)]


def _component(c: ComponentVersion) -> dict[str, Any]:
    return {
        "arn": c.arn,
        "componentName": c.name,
        "componentVersion": c.version,
        "creationTimestamp": c.created,
    }


def _deployment(d: Deployment) -> dict[str, Any]:
    return {
        "targetArn": d.target_arn,
        "revisionId": d.revision_id,
        "deploymentId": d.deployment_id,
        "deploymentName": d.deployment_name,
        "creationTimestamp": d.created,
        "deploymentStatus": d.status,
        "isLatestForTarget": d.is_latest_for_target,
        "parentTargetArn": d.parent_target_arn,
    }


def _core_device(backend: GreengrassV2Backend, name: str) -> dict[str, Any]:
    device = backend.core_device(name)
    return {
        "coreDeviceThingName": device.thing_name,
        "coreVersion": device.core_version,
        "platform": device.platform,
        "architecture": device.architecture,
        "runtime": "aws_nucleus_classic",
        "status": device.status,
        "lastStatusUpdateTimestamp": device.last_status_update,
    }


def create_component_version(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    component = backend.create_component_version(p["inlineRecipe"], p.get("tags"))
    return {**_component(component), "status": component.status()}


def get_component(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    component = backend.component(p["arn"])
    output_format = p.get("recipeOutputFormat", "JSON")
    return {
        "recipeOutputFormat": output_format,
        "recipe": recipe_text(component, output_format),
        "tags": component.tags,
    }


def describe_component(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    component = backend.component(p["arn"])
    return {
        **_component(component),
        "publisher": component.recipe.get("ComponentPublisher", ""),
        "description": component.recipe.get("ComponentDescription", ""),
        "status": component.status(),
        "platforms": component.platforms,
        "tags": component.tags,
    }


def list_component_versions(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    versions = backend.component_versions(p["arn"])
    return {
        "componentVersions": [{"componentName": c.name, "componentVersion": c.version, "arn": c.arn} for c in versions]
    }


def create_deployment(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    deployment = backend.create_deployment(
        target_arn=p["targetArn"],
        components=p.get("components", {}),
        deployment_name=p.get("deploymentName"),
        iot_job_configuration=p.get("iotJobConfiguration"),
        deployment_policies=p.get("deploymentPolicies"),
        parent_target_arn=p.get("parentTargetArn"),
        tags=p.get("tags"),
    )
    return {
        "deploymentId": deployment.deployment_id,
        "iotJobId": deployment.iot_job_id,
        "iotJobArn": deployment.iot_job_arn,
    }


def get_deployment(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    deployment = backend.deployment(p["deploymentId"])
    return {
        **_deployment(deployment),
        "iotJobId": deployment.iot_job_id,
        "iotJobArn": deployment.iot_job_arn,
        "components": deployment.components,
        "deploymentPolicies": deployment.deployment_policies,
        "iotJobConfiguration": deployment.iot_job_configuration,
        "tags": deployment.tags,
    }


def list_deployments(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    found = backend.list_deployments(p.get("targetArn"), p.get("historyFilter", "LATEST_ONLY"))
    return {"deployments": [_deployment(d) for d in found]}


def list_core_devices(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    devices = backend.list_core_devices(p.get("thingGroupArn"), p.get("status"))
    summaries = [_core_device(backend, d.thing_name) for d in devices]
    return {"coreDevices": [{k: v for k, v in s.items() if k != "coreVersion"} for s in summaries]}


def get_core_device(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    return {**_core_device(backend, p["coreDeviceThingName"]), "tags": {}}


def cancel_deployment(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    backend.cancel_deployment(p["deploymentId"])
    return {"message": f"Deployment {p['deploymentId']} was canceled."}


def list_installed_components(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    device = backend.core_device(p["coreDeviceThingName"])
    return {
        "installedComponents": [
            {
                "componentName": c.name,
                "componentVersion": c.version,
                "lifecycleState": c.lifecycle_state,
                "lifecycleStateDetails": c.details,
                "isRoot": True,
                "lastStatusChangeTimestamp": c.changed,
                "lastReportedTimestamp": device.last_status_update,
                "lastInstallationSource": c.deployment_id,
            }
            for c in sorted(device.components.values(), key=lambda c: c.name)
        ]
    }


def list_effective_deployments(backend: GreengrassV2Backend, p: dict[str, Any]) -> dict[str, Any]:
    """Each deployment whose IoT job has an execution for the device, with that execution's status."""
    thing = backend.core_device(p["coreDeviceThingName"]).thing_name
    iot = iot_backends[backend.account_id][backend.region]
    found: list[dict[str, Any]] = []
    for deployment in backend.deployments.values():
        execution = iot.job_executions.get((deployment.iot_job_id, thing))
        if execution is None:
            continue
        details = execution.status_details_map or {}
        found.append(
            {
                "deploymentId": deployment.deployment_id,
                "deploymentName": deployment.deployment_name,
                "iotJobId": deployment.iot_job_id,
                "iotJobArn": deployment.iot_job_arn,
                "targetArn": deployment.target_arn,
                "coreDeviceExecutionStatus": execution.status,
                "reason": details.get("deployment-failure-cause", details.get("detailed-deployment-status")),
                "creationTimestamp": deployment.created,
                "modifiedTimestamp": execution.last_updated_at.replace(tzinfo=UTC),
                "statusDetails": {"errorStack": [], "errorTypes": []},
            }
        )
    return {"effectiveDeployments": found}


HANDLERS: dict[str, Callable[[GreengrassV2Backend, dict[str, Any]], dict[str, Any]]] = {
    "CreateComponentVersion": create_component_version,
    "GetComponent": get_component,
    "DescribeComponent": describe_component,
    "ListComponentVersions": list_component_versions,
    "CreateDeployment": create_deployment,
    "GetDeployment": get_deployment,
    "ListDeployments": list_deployments,
    "ListCoreDevices": list_core_devices,
    "GetCoreDevice": get_core_device,
    "CancelDeployment": cancel_deployment,
    "ListInstalledComponents": list_installed_components,
    "ListEffectiveDeployments": list_effective_deployments,
}


def _decode(value: Any, shape: Shape) -> Any:
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _decode(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_decode(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _decode(v, shape.value) for k, v in value.items()}
    if shape.type_name in ("integer", "long") and isinstance(value, str):
        return int(value)
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | set):
        return [_encode(v) for v in value]
    return value


def _error(code: str, status: int, message: str) -> Response:
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json"}
    return status, headers, json.dumps({"message": message}).encode()


def handle(backend: GreengrassV2Backend, method: str, url: str, body: bytes | str | None) -> Response:
    """Answer one HTTP request to Greengrass v2."""
    parts = urlsplit(url)
    for operation, route in ROUTES:
        match = route.match(parts.path)
        if operation.http["method"] != method or match is None:
            continue
        shape = operation.input_shape
        params: dict[str, Any] = json.loads(body or b"{}") if method != "GET" else {}
        query = dict(parse_qsl(parts.query))
        if shape is not None:
            for name, member in shape.members.items():
                location, wire = member.serialization.get("location"), member.serialization.get("name", name)
                if location == "uri":
                    params[name] = unquote(match.group(wire))
                elif location == "querystring" and wire in query:
                    params[name] = query[wire]
            params = _decode(params, shape)
            report = ParamValidator().validate(params, shape)
            if report.has_errors():
                return _error("ValidationException", 400, report.generate_report())
        handler = HANDLERS.get(operation.name)
        if handler is None:
            return _error("NotImplementedError", 501, f"the local cloud's Greengrass v2 has no {operation.name}")
        try:
            result = handler(backend, params)
        except GreengrassError as error:
            return _error(error.code, error.status, error.message)
        status = int(operation.http.get("responseCode", 200))
        return status, {"Content-Type": "application/json"}, json.dumps(_encode(result)).encode()
    return _error("ResourceNotFoundException", 404, f"no Greengrass v2 operation at {method} {parts.path}")


def _artifact_exists(cloud: Cloud) -> Callable[[str], bool]:
    def exists(uri: str) -> bool:
        if not uri.startswith("s3://"):
            return False
        bucket, key = split_s3_uri(uri)
        try:
            cloud.client("s3").head_object(Bucket=bucket, Key=key)
        except Exception:
            return False
        return True

    return exists


@contextmanager
def greengrassv2(cloud: Cloud) -> Iterator[None]:
    backend = GreengrassV2Backend(
        cloud.account_id, cloud.region, cloud.clock.now, _artifact_exists(cloud), settle=cloud.fleet.settle
    )
    original = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: Any) -> Any:
        parts = urlsplit(request.url)
        if parts.netloc.startswith("greengrass.") and parts.path.startswith("/greengrass/v2/"):
            # One request at a time, as every other service's (adapters/atomic_requests.py): a read
            # settles the rollouts, whose devices download through requests under that lock.
            with cloud.deliveries.request_lock:
                return handle(backend, request.method, request.url, request.body)
        return original(stubber, request)

    cloud.greengrass = backend
    try:
        with mock.patch.object(BotocoreStubber, "process_request", process_request):
            yield
    finally:
        cloud.fleet.stop()
