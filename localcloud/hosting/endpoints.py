"""What an endpoint is made of: deployments of an endpoint configuration, and their variants.

An endpoint serves one deployment (its configuration's production variants, with their current
weights and instance counts) and may have one pending (being created or updated). These records
are the truth; :func:`publish` writes the view DescribeEndpoint returns onto moto's endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import xgboost as xgb

DEFAULT_WEIGHT = 1.0
# Properties UpdateEndpoint can keep from the running endpoint (VariantPropertyType).
DESIRED_WEIGHT = "DesiredWeight"
DESIRED_INSTANCE_COUNT = "DesiredInstanceCount"
DATA_CAPTURE_CONFIG = "DataCaptureConfig"


@dataclass(frozen=True)
class Variant:
    """A production variant as deployed: its model, weight and capacity."""

    name: str
    model_name: str
    instance_type: str | None
    weight: float
    instance_count: int | None
    serverless: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, variant: dict[str, Any]) -> Variant:
        """A variant as an endpoint configuration describes it (InitialVariantWeight defaults to 1)."""
        weight = variant.get("InitialVariantWeight")
        return cls(
            name=variant["VariantName"],
            model_name=variant["ModelName"],
            instance_type=variant.get("InstanceType"),
            weight=float(DEFAULT_WEIGHT if weight is None else weight),
            instance_count=variant.get("InitialInstanceCount"),
            serverless=variant.get("ServerlessConfig"),
        )

    def summary(self) -> dict[str, Any]:
        """Its ProductionVariantSummary: a weight of 0 is a weight like any other."""
        summary: dict[str, Any] = {
            "VariantName": self.name,
            "CurrentWeight": self.weight,
            "DesiredWeight": self.weight,
        }
        if self.instance_count is not None:
            summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = self.instance_count
        if self.serverless is not None:
            summary["CurrentServerlessConfig"] = summary["DesiredServerlessConfig"] = self.serverless
        return summary


@dataclass(frozen=True)
class Deployment:
    """One endpoint configuration, deployed or being deployed."""

    config_name: str
    variants: tuple[Variant, ...]
    capture: dict[str, Any] | None
    """The DataCaptureConfig in force, or None when nothing is captured."""
    started: datetime
    ready_at: datetime
    rolls_back: bool = False
    """An injected failure: when due, the endpoint returns to its old deployment in silence."""

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def with_variant(self, variant: Variant) -> Deployment:
        return replace(self, variants=tuple(variant if v.name == variant.name else v for v in self.variants))


@dataclass(frozen=True)
class LoadedModel:
    """A SageMaker model loaded for serving, and the role the endpoint acts as for it."""

    name: str
    arn: str
    role_arn: str
    booster: xgb.Booster


@dataclass
class HostedEndpoint:
    """An endpoint: what it serves, what is being deployed, and its status."""

    name: str
    arn: str
    status: str = "Creating"
    serving: Deployment | None = None
    models: dict[str, LoadedModel] = field(default_factory=dict)
    """The serving deployment's loaded models, by variant name."""
    pending: Deployment | None = None
    failure_reason: str | None = None
    last_modified: datetime | None = None


def capture_of(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The data capture an endpoint configuration asks for, or None."""
    if not config or not config.get("EnableCapture", True):
        return None
    return config


def resolved_variants(
    current: Deployment | None,
    configured: Iterable[dict[str, Any]],
    *,
    retain: bool,
    excluded: set[str],
) -> tuple[Variant, ...]:
    """The variants an update deploys: the configuration's, or with RetainAllVariantProperties the
    running weight and instance count of each variant that stays (but for ``excluded`` properties)."""
    variants = []
    for entry in configured:
        variant = Variant.from_config(entry)
        running = current.variant(variant.name) if retain and current is not None else None
        if running is not None:
            if DESIRED_WEIGHT not in excluded:
                variant = replace(variant, weight=running.weight)
            if DESIRED_INSTANCE_COUNT not in excluded:
                variant = replace(variant, instance_count=running.instance_count)
        variants.append(variant)
    return tuple(variants)


def _capture_summary(capture: dict[str, Any]) -> dict[str, Any]:
    summary = {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 100),
        "DestinationS3Uri": capture["DestinationS3Uri"],
    }
    if capture.get("KmsKeyId"):
        summary["KmsKeyId"] = capture["KmsKeyId"]
    return summary


def _pending_summary(pending: Deployment) -> dict[str, Any]:
    status = [{"Status": "Creating", "StartTime": pending.started}]
    variants = []
    for variant in pending.variants:
        summary: dict[str, Any] = {
            "VariantName": variant.name,
            "DesiredWeight": variant.weight,
            "VariantStatus": status,
        }
        if variant.instance_count is not None:
            summary["DesiredInstanceCount"] = variant.instance_count
        if variant.instance_type is not None:
            summary["InstanceType"] = variant.instance_type
        variants.append(summary)
    return {"EndpointConfigName": pending.config_name, "ProductionVariants": variants, "StartTime": pending.started}


def publish(endpoint: Any, hosted: HostedEndpoint) -> None:
    """Write what DescribeEndpoint shows onto moto's endpoint: while an update runs, the running
    configuration and variants, with the update under PendingDeploymentSummary."""
    shown = hosted.serving or hosted.pending
    endpoint.endpoint_status = hosted.status
    endpoint.failure_reason = hosted.failure_reason
    if shown is not None:
        endpoint.endpoint_config_name = shown.config_name
    endpoint.production_variants = (
        [v.summary() for v in hosted.serving.variants] if hosted.serving is not None else None
    )
    endpoint.pending_deployment_summary = _pending_summary(hosted.pending) if hosted.pending is not None else None
    capture = shown.capture if shown is not None else None
    endpoint.data_capture_config = _capture_summary(capture) if capture else None
    if hosted.last_modified is not None:
        endpoint.last_modified_time = hosted.last_modified
