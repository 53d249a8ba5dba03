"""Adapters: each fills one gap between moto and AWS, with a test that shows the gap and the fix.

An adapter is a function ``(cloud) -> context manager`` that installs its patch while the
local cloud runs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.interface import Cloud

Adapter = Callable[["Cloud"], AbstractContextManager[Any]]

from localcloud.adapters.atomic_requests import atomic_requests  # noqa: E402
from localcloud.adapters.cloudtrail_events import cloudtrail_events  # noqa: E402
from localcloud.adapters.cloudtrail_trails import cloudtrail_trails  # noqa: E402
from localcloud.adapters.cloudwatch_alarms import cloudwatch_alarms  # noqa: E402
from localcloud.adapters.dynamodb_faults import dynamodb_faults  # noqa: E402
from localcloud.adapters.dynamodb_transactions import dynamodb_transactions  # noqa: E402
from localcloud.adapters.dynamodb_ttl import dynamodb_ttl  # noqa: E402
from localcloud.adapters.eventbridge_targets import eventbridge_targets  # noqa: E402
from localcloud.adapters.firehose_processors import firehose_processors  # noqa: E402
from localcloud.adapters.greengrassv2 import greengrassv2  # noqa: E402
from localcloud.adapters.heartbeat_timeout import heartbeat_timeout  # noqa: E402
from localcloud.adapters.iam_managed_policies import iam_managed_policies  # noqa: E402
from localcloud.adapters.iot_jobs import iot_jobs  # noqa: E402
from localcloud.adapters.kms_key_states import kms_key_states  # noqa: E402
from localcloud.adapters.lambda_async import lambda_async  # noqa: E402
from localcloud.adapters.layer_version_ref import layer_version_ref  # noqa: E402
from localcloud.adapters.log_group_arn import log_group_arn  # noqa: E402
from localcloud.adapters.s3_bucket_logging import s3_bucket_logging  # noqa: E402
from localcloud.adapters.s3_notifications import s3_notifications  # noqa: E402
from localcloud.adapters.sagemaker_compilation import sagemaker_compilation  # noqa: E402
from localcloud.adapters.sagemaker_endpoints import sagemaker_endpoints  # noqa: E402
from localcloud.adapters.sagemaker_registry import sagemaker_registry  # noqa: E402
from localcloud.adapters.sagemaker_tasks import sagemaker_tasks  # noqa: E402
from localcloud.adapters.sagemaker_training import sagemaker_training  # noqa: E402
from localcloud.adapters.scheduler import scheduler  # noqa: E402
from localcloud.adapters.sdk_errors import sdk_errors  # noqa: E402
from localcloud.adapters.sdk_parameters import sdk_parameters  # noqa: E402
from localcloud.adapters.securityhub_filters import securityhub_filters  # noqa: E402
from localcloud.adapters.sns_delivery import sns_delivery  # noqa: E402
from localcloud.adapters.sns_subscriptions import sns_subscriptions  # noqa: E402
from localcloud.adapters.stack_time import stack_time  # noqa: E402
from localcloud.adapters.stepfunctions_stack import stepfunctions_stack  # noqa: E402
from localcloud.adapters.task_callbacks import task_callbacks  # noqa: E402
from localcloud.adapters.task_timeouts import task_timeouts  # noqa: E402
from localcloud.adapters.wait_timestamp import wait_timestamp  # noqa: E402

ALL: list[Adapter] = [
    atomic_requests,
    cloudtrail_events,
    cloudtrail_trails,
    cloudwatch_alarms,
    dynamodb_faults,
    dynamodb_transactions,
    dynamodb_ttl,
    eventbridge_targets,
    firehose_processors,
    greengrassv2,
    heartbeat_timeout,
    iam_managed_policies,
    iot_jobs,
    kms_key_states,
    lambda_async,
    layer_version_ref,
    log_group_arn,
    s3_bucket_logging,
    s3_notifications,
    sagemaker_compilation,
    sagemaker_endpoints,
    sagemaker_registry,
    sagemaker_tasks,
    sagemaker_training,
    scheduler,
    sdk_errors,
    sdk_parameters,
    securityhub_filters,
    sns_delivery,
    sns_subscriptions,
    stack_time,
    stepfunctions_stack,
    task_callbacks,
    task_timeouts,
    wait_timestamp,
]
