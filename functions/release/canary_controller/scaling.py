"""Application Auto Scaling of the serving variant, kept working across the canary's variant changes.

With ``EndpointAutoScaling`` enabled, the variant that serves alone (the first model, a promoted
challenger, or the champion after a rollback) is a scalable target of Application Auto Scaling
with a target-tracking policy on ``SageMakerVariantInvocationsPerInstance``. SageMaker refuses an
UpdateEndpoint that removes a scaled variant or changes its instance type, so before each update
the workflow deregisters exactly those targets (deregistering deletes their policies); a variant
the update keeps as it is stays scaled (the champion while a canary bakes beside it). Once the
endpoint is InService on a config with one variant, that variant is registered again.
"""

from __future__ import annotations

from typing import Any

from planning import CanarySettings
from pydantic import BaseModel

from conveyor import aws
from conveyor.errors import ConveyorError

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
# Out quickly when traffic grows; in slowly, so a dip between bursts does not drop instances.
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300


class EndpointScalingError(ConveyorError):
    """A variant could not be registered for auto scaling: it serves at a fixed instance count."""


class ScalingOutcome(BaseModel):
    action: str
    variants: list[str] = []


def resource_id(endpoint_name: str, variant: str) -> str:
    """The scalable target's ResourceId for a variant: ``endpoint/<endpoint>/variant/<variant>``."""
    return f"endpoint/{endpoint_name}/variant/{variant}"


def policy_name(settings: CanarySettings, variant: str) -> str:
    return f"{settings.resource_prefix}-{variant}-invocations-per-instance"


def scalable_target(settings: CanarySettings, variant: str) -> dict[str, Any]:
    """The RegisterScalableTarget request for ``variant`` (registering again updates it in place)."""
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(settings.endpoint_name, variant),
        "ScalableDimension": DIMENSION,
        "MinCapacity": settings.endpoint_min_instances,
        "MaxCapacity": settings.endpoint_max_instances,
    }


def scaling_policy(settings: CanarySettings, variant: str) -> dict[str, Any]:
    """The PutScalingPolicy request: target tracking of invocations per instance for ``variant``."""
    return {
        "PolicyName": policy_name(settings, variant),
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(settings.endpoint_name, variant),
        "ScalableDimension": DIMENSION,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": settings.endpoint_target_invocations_per_instance,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
            "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
        },
    }


def blocked_variants(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Variants of ``current`` (ProductionVariants of endpoint configs) that an update to ``new``
    removes or gives another instance type: SageMaker refuses the update while they are scaled."""
    types = {variant["VariantName"]: variant.get("InstanceType") for variant in new}
    return [
        variant["VariantName"]
        for variant in current
        if variant["VariantName"] not in types or types[variant["VariantName"]] != variant.get("InstanceType")
    ]


def deregister_before_update(settings: CanarySettings, endpoint_config_name: str) -> ScalingOutcome:
    """Deregister the endpoint's scalable targets that the update to ``endpoint_config_name`` would
    break. Runs with auto scaling off too: targets left by an earlier deploy would block the update."""
    sagemaker = aws.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    current = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    new = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint_config_name)
    candidates = blocked_variants(current["ProductionVariants"], new["ProductionVariants"])
    if not candidates:
        return ScalingOutcome(action="nothing_to_deregister")
    scaling = aws.client("application-autoscaling")
    ids = [resource_id(settings.endpoint_name, variant) for variant in candidates]
    registered = scaling.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=ids, ScalableDimension=DIMENSION
    )["ScalableTargets"]
    for target in registered:
        # A target deregistered meanwhile (a retried step) is done.
        try:
            scaling.deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=target["ResourceId"], ScalableDimension=DIMENSION
            )
        except scaling.exceptions.ObjectNotFoundException:
            continue
    return ScalingOutcome(
        action="deregistered", variants=[target["ResourceId"].rsplit("/", 1)[1] for target in registered]
    )


def register_serving_variant(settings: CanarySettings, variant: str) -> ScalingOutcome:
    """Register ``variant`` as a scalable target with its target-tracking policy (both idempotent)."""
    if not settings.endpoint_auto_scaling:
        return ScalingOutcome(action="auto_scaling_disabled")
    # CloudFormation's Rules cannot compare two numbers, so the bounds are checked here, loudly.
    if settings.endpoint_min_instances > settings.endpoint_max_instances:
        raise EndpointScalingError(
            f"EndpointMinInstances ({settings.endpoint_min_instances}) exceeds EndpointMaxInstances "
            f"({settings.endpoint_max_instances}): variant {variant} of endpoint {settings.endpoint_name} is not "
            "registered for auto scaling; deploy again with bounds in order"
        )
    scaling = aws.client("application-autoscaling")
    try:
        scaling.register_scalable_target(**scalable_target(settings, variant))
        scaling.put_scaling_policy(**scaling_policy(settings, variant))
    except scaling.exceptions.ClientError as error:
        raise EndpointScalingError(
            f"variant {variant} of endpoint {settings.endpoint_name} could not be registered for auto scaling "
            f"({error}); it serves at a fixed instance count until it is registered (README, The endpoint canary)"
        ) from error
    return ScalingOutcome(action="registered", variants=[variant])
