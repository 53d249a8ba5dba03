"""Gap: moto's training jobs complete at once, with no model and a canned metric.

Moto marks every training job Completed when it is created, writes no artifact and reports
``train:progress``. Fix: the job trains for real with the local stand-in (``localcloud.training``):
each of its ``InstanceCount`` hosts gets its share of the channels (``S3Prefix`` or
``ManifestFile``, ``FullyReplicated`` or ``ShardedByS3Key``) downloaded from emulated S3 as the
job's role into its own folder, and trains on it, several hosts together through XGBoost's
collective. The job writes ``model.tar.gz`` to its output path and reports the real final metrics,
or fails with a ``FailureReason``; each host's log, saying what it read, goes to CloudWatch Logs
(``/aws/sagemaker/TrainingJobs``, stream ``<job name>/algo-<i>-<epoch>``). ``cloud.training_faults``
injects failures, throttling of CreateTrainingJob, and spot interruptions that resume from the
job's checkpoint, for one host or several.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

from conveyor.aws import split_s3_uri
from localcloud.training import CHECKPOINT_FILE, TrainingDataError, TrainingFaults, TrainingOutcome
from localcloud.training.channels import channel_of, download
from localcloud.training.cluster import Host, HostFailedError, train_on_hosts
from localcloud.training.logs import write_logs

if TYPE_CHECKING:
    from localcloud.interface import Cloud


class ThrottlingError(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


def run_job(cloud: Cloud, job: Any, faults: TrainingFaults) -> None:
    """Train ``job`` for real and record the outcome on it, as SageMaker would."""
    # The job reads and writes as its role, which SageMaker assumes.
    s3 = cloud.client("s3", principal=job.role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=job.arn)
    started = cloud.clock.now()
    job.algorithm_specification.pop("MetricDefinitions", None)
    interrupt = bool(job.enable_managed_spot_training) and faults.interrupt_spot > 0
    if interrupt:
        faults.interrupt_spot -= 1
    hosts: list[Host] = []
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-training-") as folder:
            if faults.fail_next:
                raise TrainingDataError(faults.fail_next.pop(0))
            if faults.during_next:
                faults.during_next.pop(0)()
            _place(s3, job, Path(folder), hosts)
            outcome = train_on_hosts(
                job.hyper_parameters or {},
                hosts,
                checkpoint=_checkpoints(s3, job),
                interrupt=interrupt,
                now=cloud.clock.now,
            )
            bucket, key = split_s3_uri(job.model_artifacts["S3ModelArtifacts"])
            s3.put_object(Bucket=bucket, Key=key, Body=outcome.model_tarball)
    except (TrainingDataError, ClientError) as error:
        # SageMaker reports data it cannot read or write (access denied included) as a ClientError.
        _fail(job, f"ClientError: {error}")
    except HostFailedError as error:
        _fail(job, str(error))
    else:
        _complete(job, outcome, cloud.clock.now().astimezone(UTC))
    finally:
        write_logs(cloud, job, started, {host.name: host.log for host in hosts})


def _place(s3: Any, job: Any, root: Path, hosts: list[Host]) -> None:
    """Download each instance's share of each channel into its folder, adding the instances to ``hosts``."""
    count = int((job.resource_config or {}).get("InstanceCount", 1))
    channels = [channel_of(s3, config) for config in job.input_data_config]
    for instance in range(count):
        host = Host(f"algo-{instance + 1}", root / f"algo-{instance + 1}", {})
        hosts.append(host)
        for channel in channels:
            share = channel.share(instance, count)
            host.log += download(s3, channel.name, share, host.root / "input" / "data" / channel.name)
            host.files[channel.name] = [obj.file for obj in share]


def _checkpoints(s3: Any, job: Any) -> Callable[[bytes | None], bytes | None]:
    """``checkpoint(model)`` saves to the job's checkpoint location, ``checkpoint(None)`` loads from it."""
    checkpoint_uri = (job.checkpoint_config or {}).get("S3Uri")

    def checkpoint(model: bytes | None) -> bytes | None:
        if checkpoint_uri is None:
            return None
        bucket, key = split_s3_uri(checkpoint_uri.rstrip("/") + "/" + CHECKPOINT_FILE)
        if model is not None:
            s3.put_object(Bucket=bucket, Key=key, Body=model)
            return model
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    return checkpoint


def _fail(job: Any, reason: str) -> None:
    job.training_job_status = job.secondary_status = "Failed"
    job.failure_reason = reason
    job.final_metric_data_list = []
    job.model_artifacts = None


def _complete(job: Any, outcome: TrainingOutcome, stamp: Any) -> None:
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
