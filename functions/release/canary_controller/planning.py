"""The canary's plan: names, variants, weights, alarms and bake time, decided once per release.

The canary workflow (statemachines/canary_release.asl.json) makes the SageMaker and CloudWatch
calls; what it calls them with is decided here, where it can be tested. Every name carries the
package version, so nothing a release creates is ever overwritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from conveyor import aws
from conveyor.settings import Settings
from conveyor.state.canary import CanaryRecord, CanaryState, lock_endpoint, start_canary
from conveyor.state.champion import ChampionPointer, current_champion

NAMESPACE = "AWS/SageMaker"


class CanarySettings(Settings):
    endpoint_name: str
    resource_prefix: str
    endpoint_instance_type: str
    endpoint_instance_count: int = Field(ge=1)
    endpoint_auto_scaling: bool = False
    endpoint_min_instances: int = Field(default=1, ge=1)
    endpoint_max_instances: int = Field(default=1, ge=1)
    endpoint_target_invocations_per_instance: float = Field(default=1000, gt=0)
    canary_percent: int = Field(ge=1, le=50)
    bake_minutes: int = Field(ge=1, le=1440)
    alarm_period_seconds: int = Field(ge=10)
    alarm_evaluation_periods: int = Field(ge=1)
    canary_error_threshold: float = Field(ge=0)
    canary_error_rate_margin: float = Field(ge=0, le=1)
    canary_latency_p99_ms: float = Field(gt=0)
    data_capture_percent: int = Field(ge=0, le=100)
    endpoint_update_minutes: int = Field(ge=1, le=240)
    heartbeat_schedule_name: str
    data_bucket_name: str
    key_arn: str
    notification_topic_arn: str


class ReleaseInput(BaseModel):
    model_package_arn: str
    model_package_version: int = Field(ge=1)
    model_data_url: str


class Plan(BaseModel):
    endpoint_name: str
    model_name: str
    first_release: bool
    endpoint_exists: bool
    challenger_variant: str
    champion_variant: str | None
    champion_package_arn: str | None
    configs: dict[Literal["canary", "solo", "rollback"], str]
    variants: dict[Literal["canary", "solo", "rollback"], list[dict[str, Any]]]
    weights: dict[Literal["promote"], list[dict[str, Any]]]
    data_capture: dict[str, Any]
    alarms: list[dict[str, Any]]
    alarm_names: list[str]
    bake_seconds: int


def variant_name(version: int) -> str:
    return f"p{version}"


def alarm_name(settings: CanarySettings, version: int, kind: str) -> str:
    """Canary alarms share the prefix the controller's rule matches: ``<prefix>-canary-p<version>-<kind>``."""
    return f"{settings.resource_prefix}-canary-{variant_name(version)}-{kind}"


def version_of_alarm(settings: CanarySettings, name: str) -> int | None:
    """The package version whose canary an alarm watches, or None for an alarm of no canary."""
    prefix = f"{settings.resource_prefix}-canary-p"
    digits = name.removeprefix(prefix).split("-", 1)[0]
    return int(digits) if name.startswith(prefix) and digits.isdigit() else None


def plan(settings: CanarySettings, release: ReleaseInput, *, now: datetime) -> Plan:
    """Take the endpoint for this release and decide what its canary creates.

    Raises EndpointBusyError while another package's canary holds the endpoint.
    """
    version = release.model_package_version
    lock_endpoint(settings.state_table_name, version, now=now)
    champion = current_champion(settings.state_table_name)
    endpoint = _endpoint(settings)
    endpoint_exists = endpoint is not None
    first_release = champion is None or champion.variant_name is None or not endpoint_exists
    challenger = variant_name(version)
    model_name = f"{settings.resource_prefix}-{challenger}"
    champion_variant = None if first_release or champion is None else champion.variant_name
    start_canary(
        settings.state_table_name,
        CanaryRecord(
            version=version,
            package_arn=release.model_package_arn,
            endpoint_name=settings.endpoint_name,
            state=CanaryState.DEPLOYING,
            state_changed_at=now,
            challenger_variant=challenger,
            champion_variant=champion_variant,
            champion_package_arn=None if first_release or champion is None else champion.package_arn,
            endpoint_config_name=f"{model_name}-canary",
            alarm_names=[] if first_release else _alarm_names(settings, version),
        ),
    )
    alarms = [] if first_release or champion is None else canary_alarms(settings, version, champion)
    # The instances the champion serves on now (scaled, perhaps): the configs that follow keep them.
    serving = serving_count(settings, _instance_count(endpoint, champion_variant))
    return Plan(
        endpoint_name=settings.endpoint_name,
        model_name=model_name,
        first_release=first_release,
        endpoint_exists=endpoint_exists,
        challenger_variant=challenger,
        champion_variant=champion_variant,
        champion_package_arn=None if champion is None else champion.package_arn,
        configs={"canary": f"{model_name}-canary", "solo": f"{model_name}-solo", "rollback": f"{model_name}-rollback"},
        variants=_variants(settings, challenger, model_name, None if first_release else champion, serving),
        # Promotion: all traffic (and the champion's instance count) to the challenger, before the
        # endpoint moves to its config alone.
        weights={
            "promote": [
                {"VariantName": challenger, "DesiredWeight": 1.0}
                | ({"DesiredInstanceCount": serving} if serving != settings.endpoint_instance_count else {})
            ]
            + ([{"VariantName": champion_variant, "DesiredWeight": 0.0}] if champion_variant else [])
        },
        data_capture=_data_capture(settings),
        alarms=alarms,
        alarm_names=[alarm["AlarmName"] for alarm in alarms],
        bake_seconds=settings.bake_minutes * 60,
    )


def _endpoint(settings: CanarySettings) -> dict[str, Any] | None:
    """DescribeEndpoint's answer, or None when there is no endpoint yet."""
    sagemaker = aws.client("sagemaker")
    try:
        endpoint: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=settings.endpoint_name)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find endpoint" in error.response["Error"]["Message"]:
            return None
        raise
    return endpoint


def serving_count(settings: CanarySettings, current: int | None) -> int:
    """Instances for a variant that serves the champion's traffic: the count the champion has
    scaled to, within the scaling bounds; without auto scaling, EndpointInstanceCount."""
    if not settings.endpoint_auto_scaling or current is None:
        return settings.endpoint_instance_count
    return min(max(current, settings.endpoint_min_instances), settings.endpoint_max_instances)


def _instance_count(endpoint: dict[str, Any] | None, variant: str | None) -> int | None:
    for described in (endpoint or {}).get("ProductionVariants", []):
        if described["VariantName"] == variant:
            count = described.get("CurrentInstanceCount")
            return None if count is None else int(count)
    return None


def _variant(
    settings: CanarySettings, name: str, model: str, weight: float, count: int | None = None
) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count or settings.endpoint_instance_count,
        "InstanceType": settings.endpoint_instance_type,
        "InitialVariantWeight": weight,
    }


def _variants(
    settings: CanarySettings, challenger: str, model_name: str, champion: ChampionPointer | None, count: int
) -> dict[Literal["canary", "solo", "rollback"], list[dict[str, Any]]]:
    """Each config's variants. A variant that serves all or most traffic gets ``count`` instances
    (the champion's, when it scales); the challenger bakes on EndpointInstanceCount."""
    if champion is None or champion.variant_name is None or champion.model_name is None:
        solo = [_variant(settings, challenger, model_name, 1)]
        return {"canary": solo, "solo": solo, "rollback": []}
    solo = [_variant(settings, challenger, model_name, 1, count)]
    serving = _variant(settings, champion.variant_name, champion.model_name, 100 - settings.canary_percent, count)
    return {
        "canary": [serving, _variant(settings, challenger, model_name, settings.canary_percent)],
        "solo": solo,
        "rollback": [serving | {"InitialVariantWeight": 1}],
    }


def _data_capture(settings: CanarySettings) -> dict[str, Any]:
    return {
        "EnableCapture": settings.data_capture_percent > 0,
        "InitialSamplingPercentage": settings.data_capture_percent,
        "DestinationS3Uri": f"s3://{settings.data_bucket_name}/capture/",
        "KmsKeyId": settings.key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }


def _alarm_names(settings: CanarySettings, version: int) -> list[str]:
    return [alarm_name(settings, version, kind) for kind in ("errors", "latency-p99", "error-rate-vs-champion")]


def _metric(settings: CanarySettings, variant: str, metric: str, stat: str) -> dict[str, Any]:
    return {
        "Metric": {
            "Namespace": NAMESPACE,
            "MetricName": metric,
            "Dimensions": [
                {"Name": "EndpointName", "Value": settings.endpoint_name},
                {"Name": "VariantName", "Value": variant},
            ],
        },
        "Period": settings.alarm_period_seconds,
        "Stat": stat,
    }


def canary_alarms(settings: CanarySettings, version: int, champion: ChampionPointer) -> list[dict[str, Any]]:
    """PutMetricAlarm requests for the challenger: its errors, its p99 latency, and its error rate
    against the champion's over the same minutes. A period without requests is not breaching."""
    challenger = variant_name(version)
    errors, latency, comparative = _alarm_names(settings, version)
    common = {
        "EvaluationPeriods": settings.alarm_evaluation_periods,
        "DatapointsToAlarm": settings.alarm_evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": True,
        "AlarmActions": [settings.notification_topic_arn],
    }
    dimensions = [
        {"Name": "EndpointName", "Value": settings.endpoint_name},
        {"Name": "VariantName", "Value": challenger},
    ]
    champion_variant = champion.variant_name or ""
    return [
        common
        | {
            "AlarmName": errors,
            "AlarmDescription": f"Canary of package {version}: model errors (5XX) of variant {challenger}",
            "Namespace": NAMESPACE,
            "MetricName": "Invocation5XXErrors",
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": settings.alarm_period_seconds,
            "Threshold": settings.canary_error_threshold,
        },
        common
        | {
            "AlarmName": latency,
            "AlarmDescription": f"Canary of package {version}: p99 model latency of variant {challenger}",
            "Namespace": NAMESPACE,
            "MetricName": "ModelLatency",
            "Dimensions": dimensions,
            "ExtendedStatistic": "p99",
            "Period": settings.alarm_period_seconds,
            # ModelLatency is published in microseconds.
            "Threshold": settings.canary_latency_p99_ms * 1000,
        },
        common
        | {
            "AlarmName": comparative,
            "AlarmDescription": (
                f"Canary of package {version}: error rate of variant {challenger} above the champion's "
                f"({champion_variant}) by more than {settings.canary_error_rate_margin}"
            ),
            "Metrics": [
                {
                    "Id": "ce",
                    "MetricStat": _metric(settings, challenger, "Invocation5XXErrors", "Sum"),
                    "ReturnData": False,
                },
                {"Id": "ci", "MetricStat": _metric(settings, challenger, "Invocations", "Sum"), "ReturnData": False},
                {
                    "Id": "pe",
                    "MetricStat": _metric(settings, champion_variant, "Invocation5XXErrors", "Sum"),
                    "ReturnData": False,
                },
                {
                    "Id": "pi",
                    "MetricStat": _metric(settings, champion_variant, "Invocations", "Sum"),
                    "ReturnData": False,
                },
                {
                    "Id": "gap",
                    "Expression": "FILL(ce, 0) / FILL(ci, 1) - FILL(pe, 0) / FILL(pi, 1)",
                    "Label": "challenger error rate minus champion error rate",
                    "ReturnData": True,
                },
            ],
            "Threshold": settings.canary_error_rate_margin,
        },
    ]
