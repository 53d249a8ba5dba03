"""Publish a model to the fleet: one Greengrass v2 component version, then a deployment to the group.

The component version is ``1.<package version>.<n>`` (``n`` is 0 unless an earlier stack of the
same name used it): one per package, never reused. Its artifacts sit under version-stamped keys
that are written once: the inference code (``inference.zip``, this function's ``component/``
folder), each target's compiled model, and a self-test vector of XGBoost's own predictions that
each device checks its build against before it serves. One manifest per target platform.

The deployment keeps the group's other components: a thing group has one current deployment,
and a new one replaces it whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from targets import EdgePlan, EdgeSettings
from waits import Compilation

from conveyor import aws
from conveyor.aws import split_s3_uri
from conveyor.errors import ConveyorError
from conveyor.schema import load_schema

COMPONENT_FOLDER = Path(__file__).resolve().parent / "component"
MODEL_FILE = "xgboost-model"
SELF_TEST_ROWS = 16
SELF_TEST_TOLERANCE = 1e-5
PACKAGE_TAG = "conveyor:model-package"
DEPLOYABLE_WAIT_SECONDS = 60
MAXIMUM_PER_MINUTE = 1000


class ComponentNotDeployableError(ConveyorError):
    """Greengrass could not validate the component version (its artifacts), or not in time."""


class PublishRequest(BaseModel):
    plan: EdgePlan
    compilations: list[Compilation]
    model_package_arn: str
    model_package_version: int
    model_data_url: str


class Publication(BaseModel):
    deployed: bool
    reason: str
    component_name: str
    component_version: str | None = None
    deployment_id: str | None = None
    iot_job_id: str | None = None
    compiled_targets: list[str] = []
    failed_targets: list[Compilation] = []


def publish(settings: EdgeSettings, request: PublishRequest) -> Publication:
    """The component version of the request's package, and its deployment to the fleet's group."""
    plan, version = request.plan, request.model_package_version
    compiled = [r for r in request.compilations if r.status == "COMPLETED"]
    failed = [r for r in request.compilations if r.status != "COMPLETED"]
    if not compiled:
        reason = "no target compiled; nothing was deployed"
        return Publication(deployed=False, reason=reason, component_name=plan.component_name, failed_targets=failed)
    component_version, arn = _component_version(settings, plan.component_name, request.model_package_arn, version)
    if arn is None:
        prefix = f"edge/components/{plan.component_name}/{component_version}/"
        artifacts = _write_artifacts(settings, prefix, compiled, request.model_data_url)
        recipe = _recipe(
            settings,
            plan,
            component_version,
            request.model_package_arn,
            manifests=_manifests(plan, compiled, artifacts),
        )
        created = aws.client("greengrassv2").create_component_version(
            inlineRecipe=json.dumps(recipe).encode(),
            tags={PACKAGE_TAG: request.model_package_arn},
            clientToken=_token(request.model_package_arn, component_version),
        )
        arn = created["arn"]
    _wait_until_deployable(arn)
    deployment = _deploy(settings, plan, component_version, version)
    return Publication(
        deployed=True,
        reason="",
        component_name=plan.component_name,
        component_version=component_version,
        deployment_id=deployment["deploymentId"],
        iot_job_id=deployment["iotJobId"],
        compiled_targets=[r.label for r in compiled],
        failed_targets=failed,
    )


def _wait_until_deployable(arn: str) -> None:
    """Greengrass validates a new version's artifacts before it can be deployed (REQUESTED, then
    DEPLOYABLE or FAILED): wait for it, within this invocation."""
    greengrass = aws.client("greengrassv2")
    deadline = time.monotonic() + DEPLOYABLE_WAIT_SECONDS
    while True:
        status = greengrass.describe_component(arn=arn).get("status", {})
        state = status.get("componentState")
        if state == "DEPLOYABLE":
            return
        if state == "FAILED" or time.monotonic() > deadline:
            problems = "; ".join(f"{uri}: {why}" for uri, why in status.get("errors", {}).items())
            raise ComponentNotDeployableError(
                f"component version {arn} is {state}: {status.get('message', '')} {problems}".strip()
            )
        time.sleep(2)


def _token(*parts: str) -> str:
    """An idempotency token: the same request, retried, creates nothing twice."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:64]


def _component_version(settings: EdgeSettings, name: str, package_arn: str, version: int) -> tuple[str, str | None]:
    """(the version for this package, its ARN when a retry already published it)."""
    greengrass = aws.client("greengrassv2")
    base = f"{settings.component_arn_prefix}{name}"
    taken = {
        v["componentVersion"]: v["arn"]
        for page in greengrass.get_paginator("list_component_versions").paginate(arn=base)
        for v in page["componentVersions"]
    }
    patch = 0
    while (candidate := f"1.{version}.{patch}") in taken:
        described = greengrass.describe_component(arn=taken[candidate])
        ours = described.get("tags", {}).get(PACKAGE_TAG) == package_arn
        if ours and described.get("status", {}).get("componentState") != "FAILED":
            return candidate, taken[candidate]
        patch += 1
    return candidate, None


def _write_artifacts(
    settings: EdgeSettings, prefix: str, compiled: list[Compilation], model_data_url: str
) -> dict[str, str]:
    """Each artifact written once under ``prefix``: {name: s3 URI}."""
    s3 = aws.client("s3")
    bucket = settings.artifact_bucket_name
    bodies: dict[str, bytes] = {
        "inference.zip": _component_zip(),
        "selftest.json": _self_test(settings, model_data_url),
    }
    for result in compiled:
        assert result.artifact is not None  # COMPLETED jobs have one
        source_bucket, source_key = split_s3_uri(result.artifact)
        bodies[f"model-{result.label}.tar.gz"] = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"].read()
    for name, body in bodies.items():
        try:
            s3.put_object(
                Bucket=bucket,
                Key=f"{prefix}{name}",
                Body=body,
                IfNoneMatch="*",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=settings.key_arn,
            )
        except s3.exceptions.ClientError as error:
            # Written by an earlier attempt of this same version: version-stamped keys are never overwritten.
            if error.response["Error"]["Code"] != "PreconditionFailed":
                raise
    return {name: f"s3://{bucket}/{prefix}{name}" for name in bodies}


def _component_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(COMPONENT_FOLDER.rglob("*.py")):
            archive.write(path, path.relative_to(COMPONENT_FOLDER).as_posix())
    return buffer.getvalue()


def self_test_rows(feature_schema: str) -> list[list[float | None]]:
    """Rows spread over each feature's range (``[-1, 1]`` where the schema gives none), one with a missing value."""
    features = load_schema(feature_schema).features
    rows: list[list[float | None]] = []
    for i in range(SELF_TEST_ROWS):
        row: list[float | None] = []
        for j, feature in enumerate(features):
            low = feature.min if feature.min is not None else -1.0
            high = feature.max if feature.max is not None else 1.0
            value = low + (high - low) * math.modf(0.6180339887 * (i + 1) + 0.4142135623 * j)[0]
            row.append(float(round(value)) if feature.type == "integer" else value)
        rows.append(row)
    rows[-1][0] = None
    return rows


def _self_test(settings: EdgeSettings, model_data_url: str) -> bytes:
    """``selftest.json``: rows and XGBoost's own predictions for them, which every build must match."""
    import numpy as np  # noqa: PLC0415 - only this step needs them, not every cold start
    import xgboost as xgb  # noqa: PLC0415

    bucket, key = split_s3_uri(model_data_url)
    tarball = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.isfile() and m.name.rsplit("/", 1)[-1] == MODEL_FILE)
        extracted = archive.extractfile(member)
        assert extracted is not None  # a file member
        booster = xgb.Booster()
        booster.load_model(bytearray(extracted.read()))
    rows = self_test_rows(settings.feature_schema)
    matrix = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
    expected = booster.inplace_predict(matrix, validate_features=False).tolist()
    return json.dumps({"rows": rows, "expected": expected, "tolerance": SELF_TEST_TOLERANCE}).encode()


def _manifests(plan: EdgePlan, compiled: list[Compilation], artifacts: dict[str, str]) -> list[dict[str, Any]]:
    """One manifest per compiled target: its platform, its artifacts, and the component's lifecycle."""
    architectures = {t.label: t.architecture for t in plan.targets}
    manifests = []
    for result in compiled:
        model = f"model-{result.label}.tar.gz"
        manifests.append(
            {
                "Name": f"linux-{architectures[result.label]} ({result.label})",
                "Platform": {"os": "linux", "architecture": architectures[result.label]},
                "Artifacts": [
                    {"URI": artifacts["inference.zip"], "Unarchive": "ZIP"},
                    {"URI": artifacts[model]},
                    {"URI": artifacts["selftest.json"]},
                ],
                "Lifecycle": {
                    "Setenv": {"PYTHONPATH": "{artifacts:decompressedPath}/inference"},
                    "Install": (
                        f"python3 -m conveyor_inference selftest --model {{artifacts:path}}/{model} "
                        "--selftest {artifacts:path}/selftest.json --work {work:path}"
                    ),
                    "Run": (
                        f"python3 -m conveyor_inference serve --model {{artifacts:path}}/{model} --work {{work:path}} "
                        "--readings {configuration:/ReadingsFolder} --predictions {configuration:/PredictionsFolder} "
                        "--topic {configuration:/Topic} --poll-seconds {configuration:/PollSeconds}"
                    ),
                },
            }
        )
    return manifests


def _recipe(
    settings: EdgeSettings, plan: EdgePlan, version: str, package_arn: str, *, manifests: list[dict[str, Any]]
) -> dict[str, Any]:
    topic = f"{settings.resource_prefix}/predictions"
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": plan.component_name,
        "ComponentVersion": version,
        "ComponentDescription": f"Conveyor inference with model package {package_arn}, compiled by SageMaker Neo.",
        "ComponentPublisher": "Conveyor",
        "ComponentConfiguration": {
            "DefaultConfiguration": {
                "ReadingsFolder": "readings",
                "PredictionsFolder": "predictions",
                "Topic": topic,
                "PollSeconds": 1,
                # Greengrass IPC refuses a publish that no authorisation policy allows.
                "accessControl": {
                    "aws.greengrass.ipc.pubsub": {
                        f"{plan.component_name}:pubsub:1": {
                            "policyDescription": "Publish the component's predictions on its topic.",
                            "operations": ["aws.greengrass#PublishToTopic"],
                            "resources": [topic],
                        }
                    }
                },
            }
        },
        "Manifests": manifests,
    }


def _deploy(settings: EdgeSettings, plan: EdgePlan, component_version: str, version: int) -> dict[str, Any]:
    """The group's deployment of this version, created once (a retry finds it as the group's latest)."""
    greengrass = aws.client("greengrassv2")
    name = f"{settings.resource_prefix}-p{version}"
    latest = greengrass.list_deployments(targetArn=plan.thing_group_arn, historyFilter="LATEST_ONLY")["deployments"]
    components: dict[str, Any] = {}
    if latest:
        current = greengrass.get_deployment(deploymentId=latest[0]["deploymentId"])
        if current.get("deploymentName") == name:
            return dict(current)
        components = dict(current.get("components", {}))
    components[plan.component_name] = {"componentVersion": component_version}
    created: dict[str, Any] = greengrass.create_deployment(
        clientToken=_token(plan.thing_group_arn, name),
        targetArn=plan.thing_group_arn,
        deploymentName=name,
        components=components,
        deploymentPolicies={
            "failureHandlingPolicy": "ROLLBACK",
            "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
        },
        iotJobConfiguration={
            "jobExecutionsRolloutConfig": {
                # Required beside an exponential rate (IoT developer guide, "Job rollout configurations").
                "maximumPerMinute": MAXIMUM_PER_MINUTE,
                "exponentialRate": {
                    "baseRatePerMinute": settings.rollout_base_rate_per_minute,
                    "incrementFactor": settings.rollout_increment_factor,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": settings.rollout_increase_after_succeeded},
                },
            },
            "abortConfig": {
                "criteriaList": [
                    {
                        "failureType": "ALL",
                        "action": "CANCEL",
                        "thresholdPercentage": settings.abort_failure_percent,
                        "minNumberOfExecutedThings": settings.abort_min_devices,
                    }
                ]
            },
            "timeoutConfig": {"inProgressTimeoutInMinutes": settings.device_timeout_minutes},
        },
        tags={"conveyor:model-package-version": str(version)},
    )
    return created
