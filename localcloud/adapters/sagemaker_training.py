"""Gap: moto's training jobs complete at once, with no model and a canned metric.

Moto marks every training job Completed when it is created, writes no artifact and reports
``train:progress``. Fix: the job trains for real with the local stand-in (``localcloud.training``)
on its channels in emulated S3, writes ``model.tar.gz`` to its output path and reports the real
final metrics, or fails with a ``FailureReason``. ``cloud.training_faults`` injects failures,
throttling of CreateTrainingJob, and spot interruptions that resume from the job's checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

from conveyor.aws import split_s3_uri
from localcloud.training import CHECKPOINT_FILE, TrainingDataError, TrainingFaults, train

if TYPE_CHECKING:
    from localcloud.interface import Cloud


class ThrottlingError(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


def _channel_objects(s3: Any, uri: str) -> list[bytes]:
    bucket, prefix = split_s3_uri(uri)
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in sorted(found, key=lambda o: o["Key"])]


def run_job(cloud: Cloud, job: Any, faults: TrainingFaults) -> None:
    """Train ``job`` for real and record the outcome on it, as SageMaker would."""
    # The job reads and writes as its role, which SageMaker assumes.
    s3 = cloud.client("s3", principal=job.role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=job.arn)
    now = cloud.clock.now
    job.algorithm_specification.pop("MetricDefinitions", None)
    checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")

    def checkpoint(model: bytes | None) -> bytes | None:
        if checkpoint_uri is None:
            return None
        bucket, prefix = split_s3_uri(checkpoint_uri.rstrip("/") + "/" + CHECKPOINT_FILE)
        if model is not None:
            s3.put_object(Bucket=bucket, Key=prefix, Body=model)
            return model
        return bytes(s3.get_object(Bucket=bucket, Key=prefix)["Body"].read())

    interrupt = bool(job.enable_managed_spot_training) and faults.interrupt_spot > 0
    if interrupt:
        faults.interrupt_spot -= 1
    try:
        if faults.fail_next:
            raise TrainingDataError(faults.fail_next.pop(0))
        if faults.during_next:
            faults.during_next.pop(0)()
        channels = {
            c["ChannelName"]: _channel_objects(s3, c["DataSource"]["S3DataSource"]["S3Uri"])
            for c in job.input_data_config
        }
        outcome = train(job.hyper_parameters or {}, channels, checkpoint=checkpoint, interrupt=interrupt, now=now)
        bucket, key = split_s3_uri(job.model_artifacts["S3ModelArtifacts"])
        s3.put_object(Bucket=bucket, Key=key, Body=outcome.model_tarball)
    except (TrainingDataError, ClientError) as error:
        # SageMaker reports data it cannot read or write (access denied included) as a ClientError.
        job.training_job_status = job.secondary_status = "Failed"
        job.failure_reason = f"ClientError: {error}"
        job.final_metric_data_list = []
        job.model_artifacts = None
        return
    stamp = now().astimezone(UTC)
    job.final_metric_data_list = [
        {"MetricName": name, "Value": value, "Timestamp": stamp} for name, value in sorted(outcome.metrics.items())
    ]
    job.secondary_status_transitions = [
        {"Status": status, "StartTime": stamp, "StatusMessage": f"{status} (local stand-in, at {at})"}
        for status, at in outcome.transitions
    ]
    job.training_job_status = job.secondary_status = "Completed"


def _training(cloud: Cloud, original: Callable[..., FakeTrainingJob]) -> Callable[..., FakeTrainingJob]:
    def create_training_job(backend: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTrainingJob:
        faults = cloud.training_faults
        if faults.throttle_creates > 0:
            faults.throttle_creates -= 1
            raise ThrottlingError()
        name = kwargs.get("training_job_name")
        if name in backend.training_jobs:
            message = f"Training job names must be unique within an account and region; {name} already exists"
            raise JsonRESTError("ResourceInUse", message)
        job = original(backend, *args, **kwargs)
        job.training_job_status = job.secondary_status = "InProgress"
        run_job(cloud, job, faults)
        return job

    return create_training_job


@contextmanager
def sagemaker_training(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(
        SageMakerModelBackend, "create_training_job", _training(cloud, SageMakerModelBackend.create_training_job)
    ):
        yield
