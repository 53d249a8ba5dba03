"""Each training host's log, in CloudWatch Logs where SageMaker writes it.

Group ``/aws/sagemaker/TrainingJobs``, one stream per host named ``<job name>/algo-<i>-<epoch>``
(the job's start, in seconds), written with the job's role: it needs ``logs:CreateLogGroup``,
``logs:CreateLogStream`` and ``logs:PutLogEvents`` on that group, as the template's TrainingRole
has. As on SageMaker, a role that may not write them loses them and the job is unaffected.

A host's stream says what it read: the platform's downloads (``Downloaded s3://... to
/opt/ml/input/data/<channel>/<file>``), then the algorithm's lines (``Read
/opt/ml/input/data/train/<file>: <n> rows``, its matrices, its process and rank, its final
metrics), or why it took no part. ``/opt/ml`` stands for the host's folder.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from localcloud.interface import Cloud

GROUP = "/aws/sagemaker/TrainingJobs"


def stream_name(job_name: str, host: str, started: datetime) -> str:
    """The stream of one host of a job, as SageMaker names it."""
    return f"{job_name}/{host}-{int(started.timestamp())}"


def write_logs(cloud: Cloud, job: Any, started: datetime, logs: dict[str, list[str]]) -> None:
    """Write each host's lines to its stream as the job's role; lose them, as SageMaker does, if refused."""
    if not any(logs.values()):
        return
    client = cloud.client("logs", principal=job.role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=job.arn)
    at = int(cloud.clock.now().timestamp() * 1000)
    try:
        with suppress(client.exceptions.ResourceAlreadyExistsException):
            client.create_log_group(logGroupName=GROUP)
        for host, lines in sorted(logs.items()):
            if not lines:
                continue
            stream = stream_name(job.training_job_name, host, started)
            client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            events = [{"timestamp": at, "message": line} for line in lines]
            client.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
    except ClientError:
        return
