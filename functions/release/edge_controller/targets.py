"""The edge release's plan: what to compile for which target, and the component it publishes.

The edge workflow (statemachines/edge_release.asl.json) makes the SageMaker Neo calls; what it
calls them with is decided here, where it can be tested. Each target of ``EdgeTargets`` is a Neo
``TargetDevice`` (``rasp4b``) or a CPU ``TargetPlatform`` written ``<Os>_<Arch>``
(``LINUX_ARM64``, ``LINUX_X86_64``, ``LINUX_ARM_EABIHF``), and maps to the Greengrass platform
(os, architecture) its devices report: one component manifest per target.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field

from conveyor.errors import ConveyorError
from conveyor.schema import load_schema
from conveyor.settings import Settings

# Greengrass v2 platform architectures (the nucleus's os.arch names): what a recipe manifest matches.
AMD64, AARCH64, ARM, X86 = "amd64", "aarch64", "arm", "x86"
# Neo's TargetDevice values for Linux devices and cloud instances, by the CPU they run on.
DEVICE_ARCHITECTURES = {
    "ml_c4": AMD64,
    "ml_c5": AMD64,
    "ml_m4": AMD64,
    "ml_m5": AMD64,
    "ml_p3": AMD64,
    "ml_g4dn": AMD64,
    "ml_c6g": AARCH64,
    "ml_m6g": AARCH64,
    "rasp3b": ARM,
    "rasp4b": AARCH64,
    "jetson_tx1": AARCH64,
    "jetson_tx2": AARCH64,
    "jetson_nano": AARCH64,
    "jetson_xavier": AARCH64,
    "imx8qm": AARCH64,
    "imx8mplus": AARCH64,
    "qcs605": AARCH64,
    "qcs603": AARCH64,
    "sbe_c": AMD64,
    "coreml": AARCH64,
}
# TargetPlatform's Arch values.
PLATFORM_ARCHITECTURES = {"X86_64": AMD64, "ARM_EABIHF": ARM, "ARM_EABI": ARM, "ARM64": AARCH64, "X86": X86}
PLATFORM_OSES = {"LINUX"}
JOB_NAME_LIMIT = 63


class EdgePlanError(ConveyorError):
    """The edge settings cannot be planned (a target Neo does not know, two targets for one platform)."""


class EdgeSettings(Settings):
    resource_prefix: str
    feature_schema: str
    edge_targets: str
    edge_thing_group: str = ""
    artifact_bucket_name: str
    key_arn: str
    endpoint_enabled: bool
    compile_minutes: int = Field(ge=1, le=1440)
    canary_wait_minutes: int = Field(ge=1, le=10080)
    rollout_minutes: int = Field(ge=1, le=10080)
    rollout_base_rate_per_minute: int = Field(ge=1, le=1000)
    rollout_increment_factor: float = Field(ge=1.1, le=5)
    rollout_increase_after_succeeded: int = Field(ge=1)
    abort_failure_percent: float = Field(ge=0, le=100)
    abort_min_devices: int = Field(ge=1)
    device_timeout_minutes: int = Field(ge=1, le=10080)
    thing_group_arn_prefix: str
    """``arn:<partition>:iot:<region>:<account>:thinggroup/`` (a group's ARN is this and its name)."""
    component_arn_prefix: str
    """``arn:<partition>:greengrass:<region>:<account>:components:`` (a component's is this and its name)."""


class ReleaseInput(BaseModel):
    model_package_arn: str
    model_package_version: int = Field(ge=1)
    model_data_url: str
    execution: str
    """The workflow's execution name: part of each job's name, so a re-run never collides."""


class CompileTarget(BaseModel):
    label: str
    """The target as ``EdgeTargets`` names it."""
    architecture: str
    """The Greengrass platform architecture of its devices."""
    job_name: str
    input_config: dict[str, Any]
    output_config: dict[str, Any]
    stopping_condition: dict[str, int]


class EdgePlan(BaseModel):
    enabled: bool
    reason: str
    wait_for_canary: bool
    """Whether the fleet waits for the endpoint canary to promote the model (``EndpointEnabled``)."""
    thing_group: str
    thing_group_arn: str
    component_name: str
    targets: list[CompileTarget]


def parse_target(label: str) -> tuple[dict[str, Any], str]:
    """(the OutputConfig target fields, the Greengrass architecture) of one ``EdgeTargets`` entry."""
    if label in DEVICE_ARCHITECTURES:
        return {"TargetDevice": label}, DEVICE_ARCHITECTURES[label]
    os_name, _, arch = label.partition("_")
    if os_name not in PLATFORM_OSES or arch not in PLATFORM_ARCHITECTURES:
        # An accelerator (LINUX_ARM64_NVIDIA) needs Neo CompilerOptions (CUDA, TensorRT versions) this
        # stack does not take: compile for the CPU, or name the device (jetson_nano).
        raise EdgePlanError(
            f"EdgeTargets: {label!r} is neither a Neo TargetDevice ({', '.join(sorted(DEVICE_ARCHITECTURES))}) "
            f"nor a CPU TargetPlatform <Os>_<Arch> with Os in {sorted(PLATFORM_OSES)} and Arch in "
            f"{sorted(PLATFORM_ARCHITECTURES)}"
        )
    return {"TargetPlatform": {"Os": os_name, "Arch": arch}}, PLATFORM_ARCHITECTURES[arch]


def target_labels(settings: EdgeSettings) -> list[str]:
    return [label.strip() for label in settings.edge_targets.split(",") if label.strip()]


def job_name(settings: EdgeSettings, release: ReleaseInput, label: str) -> str:
    """``<prefix>-p<version>-<target>-<execution digest>``, the target cut to fit Neo's 63 characters."""
    digest = hashlib.sha256(release.execution.encode()).hexdigest()[:6]
    head = f"{settings.resource_prefix}-p{release.model_package_version}-"
    slug = label.lower().replace("_", "-")[: JOB_NAME_LIMIT - len(head) - len(digest) - 1].strip("-")
    return f"{head}{slug}-{digest}"


def plan(settings: EdgeSettings, release: ReleaseInput) -> EdgePlan:
    """The compilations and the component of one edge release (or why edge release is off)."""
    group = settings.edge_thing_group.strip()
    component = f"{settings.resource_prefix}-inference"
    if not group:
        reason = "EdgeThingGroup is empty: edge release is off, nothing is compiled or deployed"
        return EdgePlan(
            enabled=False,
            reason=reason,
            wait_for_canary=settings.endpoint_enabled,
            thing_group="",
            thing_group_arn="",
            component_name=component,
            targets=[],
        )
    labels = target_labels(settings)
    if not labels:
        raise EdgePlanError("EdgeTargets is empty: name at least one Neo target for the fleet's devices")
    features = len(load_schema(settings.feature_schema).features)
    input_config = {
        "S3Uri": release.model_data_url,
        "DataInputConfig": json.dumps({"data": [1, features]}),
        # No FrameworkVersion: the API takes it for MXNet, PyTorch and TensorFlow only; the model's
        # version is the training container's (XgboostVersion).
        "Framework": "XGBOOST",
    }
    output_location = f"s3://{settings.artifact_bucket_name}/edge/compiled/p{release.model_package_version}/"
    targets: list[CompileTarget] = []
    for label in labels:
        fields, architecture = parse_target(label)
        clash = next((t.label for t in targets if t.architecture == architecture), None)
        if clash is not None:
            raise EdgePlanError(
                f"EdgeTargets: {clash!r} and {label!r} both build for Greengrass architecture {architecture!r}; "
                "a device runs the first manifest that matches its platform, so name one target per architecture"
            )
        targets.append(
            CompileTarget(
                label=label,
                architecture=architecture,
                job_name=job_name(settings, release, label),
                input_config=input_config,
                output_config={"S3OutputLocation": output_location, "KmsKeyId": settings.key_arn} | fields,
                stopping_condition={"MaxRuntimeInSeconds": settings.compile_minutes * 60},
            )
        )
    return EdgePlan(
        enabled=True,
        reason="",
        wait_for_canary=settings.endpoint_enabled,
        thing_group=group,
        thing_group_arn=f"{settings.thing_group_arn_prefix}{group}",
        component_name=component,
        targets=targets,
    )
