"""Provisioners for resource types that moto's CloudFormation accepts but does not create.

Moto reports CREATE_COMPLETE for a type it does not model and creates nothing. Each module
here models one such type as a moto ``CloudFormationModel``: moto then resolves its properties
(Refs, GetAtts, conditions, dependency order) and hands them to ``create_from_cloudformation_json``,
which provisions the resource through the service's own API. Types that are neither modelled by
moto nor provisioned here are refused before the stack is created.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudformation import parsing

from localcloud.resources import (
    awslambda,
    base,
    cloudtrail,
    cloudwatch,
    completions,
    firehose,
    logs,
    s3,
    sagemaker,
    scheduler,
    sns,
    sqs,
)

PROVISIONERS: tuple[type[Any], ...] = (
    awslambda.EventInvokeConfig,
    cloudtrail.Trail,
    cloudwatch.Alarm,
    firehose.DeliveryStream,
    logs.LogStream,
    s3.BucketPolicy,
    sagemaker.ModelPackageGroup,
    scheduler.Schedule,
    sns.TopicPolicy,
    sns.Subscription,
    sqs.QueuePolicy,
)


def _clear_model_caches() -> None:
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


@contextmanager
def registered() -> Iterator[None]:
    """Make moto's CloudFormation see the provisioners while the local cloud runs."""
    _clear_model_caches()
    base.forget_clients()
    try:
        with completions.installed():
            yield
    finally:
        _clear_model_caches()
        base.forget_clients()


def supported_types() -> set[str]:
    """Every resource type the local cloud can create: moto's own and the provisioned ones."""
    return set(parsing.get_model_map()) | {p.cloudformation_type() for p in PROVISIONERS}


def unsupported_types(template: dict[str, Any]) -> list[str]:
    """Resource types in ``template`` that would be skipped in silence, sorted."""
    known = supported_types()
    return sorted({r["Type"] for r in template["Resources"].values() if r["Type"] not in known})
