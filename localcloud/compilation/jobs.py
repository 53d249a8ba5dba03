"""Compilation jobs on stack time: INPROGRESS, then COMPLETED or FAILED; STOPPING, then STOPPED.

CreateCompilationJob starts a job that is due ``compile_seconds`` of stack time later. The first
call that looks at it after that (describe, list, stop) runs it: it reads ``InputConfig.S3Uri``
as the job's role (assumed by SageMaker), compiles (:mod:`localcloud.compilation.compiler`) and
writes the result beside ``OutputConfig.S3OutputLocation`` as that role, under
``OutputConfig.KmsKeyId`` when given. So a job is a function of stack time alone, with no ticker.
StopCompilationJob makes a running job STOPPING, and STOPPED ``stop_seconds`` later; it never
writes an artifact. FailureReasons take the shape of Neo's (``ClientError: InputConfiguration:
...``); a tool the local machine lacks is named, with the package that brings it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError
from moto.core.exceptions import ServiceException
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend

from conveyor.aws import split_s3_uri
from localcloud.clients import Clients
from localcloud.clock import Clock
from localcloud.compilation.compiler import InputError, ToolchainError, check_input, compile_model, output_uri
from localcloud.compilation.targets import TargetError, resolve
from localcloud.iam import DeniedError

# By default a job completes at the next describe: a workflow polling it waits in compressed time
# (its Wait or Retry), which does not move stack time, so a job timed in stack time would never
# complete for it. Tests of INPROGRESS and STOPPING set durations and advance the clock through them.
DEFAULT_COMPILE_SECONDS = 0.0
DEFAULT_STOP_SECONDS = 0.0
RUNNING = ("STARTING", "INPROGRESS")


@dataclass
class CompilationFaults:
    """Faults a test can inject into the next compilation jobs: ``cloud.compilation_faults``."""

    fail_next: list[str] = field(default_factory=list)
    """FailureReasons, one per job, for the next jobs to finish (they write nothing)."""
    broken_builds: set[str] = field(default_factory=set)
    """Targets whose next build compiles but predicts wrongly on purpose (its base score is off by
    one), as a bad build for one platform would: a device's self-test catches it. A target is named
    as in the output file: the TargetDevice (``rasp4b``) or ``<Os>_<Arch>`` (``LINUX_ARM64``)."""


class Builder(Clients, Protocol):
    """What compilation jobs use of the running local cloud."""

    clock: Clock
    compilation_faults: CompilationFaults


class JobFailedError(Exception):
    """The job fails with this FailureReason."""


@dataclass
class _Run:
    job: Any  # moto's CompilationJob, whose fields this sets beyond their declared types
    due: datetime
    stopping_since: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Compilations:
    """Every compilation job's run, by job ARN (``cloud.compilation``)."""

    def __init__(
        self,
        cloud: Builder,
        *,
        compile_seconds: float = DEFAULT_COMPILE_SECONDS,
        stop_seconds: float = DEFAULT_STOP_SECONDS,
    ) -> None:
        self._cloud = cloud
        self.compile_seconds = compile_seconds
        """Stack time from CreateCompilationJob to the job's end (0: the next look at it)."""
        self.stop_seconds = stop_seconds
        """Stack time from StopCompilationJob to STOPPED (0: the next look at it)."""
        self.wall_seconds: dict[str, float] = {}
        """Real seconds each finished job took to run (download, compile, upload), by job name."""
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def start(self, job: Any) -> None:
        """Start running a job moto has just created: INPROGRESS until ``compile_seconds`` have passed."""
        now = self._now()
        job.compilation_job_status = "INPROGRESS"
        job.compilation_start_time = job.last_modified_time = now
        job.compilation_end_time = job.model_artifacts = job.model_digests = None
        job.failure_reason = job.inference_image = job.derived_information = None
        with self._lock:
            self._runs[job.arn] = _Run(job, now + timedelta(seconds=self.compile_seconds))

    def settle(self, backend: SageMakerModelBackend) -> None:
        """Finish every job of ``backend`` that is due at stack time now."""
        with self._lock:
            runs = [self._runs[job.arn] for job in backend.compilation_jobs.values() if job.arn in self._runs]
        for run in runs:
            with run.lock:
                self._settle(run)

    def stop(self, backend: SageMakerModelBackend, name: str) -> None:
        """StopCompilationJob: a running job becomes STOPPING; a stopping one stays so."""
        self.settle(backend)
        job = backend.compilation_jobs.get(name)
        if job is None:
            raise ResourceNotFound(message=f"Could not find compilation job '{name}'.")
        with self._lock:
            run = self._runs[job.arn]
        with run.lock:
            status = job.compilation_job_status
            if status == "STOPPING":
                return
            if status not in RUNNING:
                raise ValidationError(message=f"Compilation job {name} is {status}; only a running job can be stopped.")
            now = self._now()
            job.compilation_job_status, job.last_modified_time, run.stopping_since = "STOPPING", now, now

    def forget(self, job_arn: str) -> None:
        with self._lock:
            self._runs.pop(job_arn, None)

    def _now(self) -> datetime:
        """Stack time now, naive in UTC as moto keeps its times."""
        return self._cloud.clock.now().replace(tzinfo=None)

    def _settle(self, run: _Run) -> None:
        job, now = run.job, self._now()
        if job.compilation_job_status in RUNNING and now >= run.due:
            self._finish(run)
        elif job.compilation_job_status == "STOPPING" and run.stopping_since is not None:
            stopped = run.stopping_since + timedelta(seconds=self.stop_seconds)
            if now >= stopped:
                job.compilation_job_status = "STOPPED"
                job.compilation_end_time = job.last_modified_time = stopped

    def _finish(self, run: _Run) -> None:
        job = run.job
        started = time.perf_counter()
        try:
            artifact, digest = self._compile(job)
        except JobFailedError as error:
            job.compilation_job_status, job.failure_reason = "FAILED", str(error)
        else:
            job.compilation_job_status = "COMPLETED"
            job.model_artifacts = {"S3ModelArtifacts": artifact}
            job.model_digests = {"ArtifactDigest": digest}
        self.wall_seconds[job.compilation_job_name] = time.perf_counter() - started
        job.compilation_end_time = job.last_modified_time = run.due

    def _compile(self, job: Any) -> tuple[str, str]:
        """Compile ``job`` as its role; return the artifact's URI and SHA-256, or raise :class:`JobFailedError`."""
        faults = self._cloud.compilation_faults
        with self._lock:  # jobs finish on several threads at once (a Map over targets)
            injected = faults.fail_next.pop(0) if faults.fail_next else None
        if injected is not None:
            raise JobFailedError(injected)
        if job.input_config is None:
            raise JobFailedError(
                "ClientError: InputConfiguration: the local Neo stand-in compiles the model of InputConfig, "
                "not of ModelPackageVersionArn"
            )
        try:
            check_input(job.input_config)
            target = resolve(job.output_config)
        except InputError as error:
            raise JobFailedError(f"ClientError: InputConfiguration: {error}") from error
        except TargetError as error:
            raise JobFailedError(f"ClientError: OutputConfiguration: {error}") from error
        # The job reads and writes as its role, which SageMaker assumes.
        s3 = self._cloud.client("s3", principal=job.role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=job.arn)
        source = job.input_config["S3Uri"]
        try:
            bucket, key = split_s3_uri(source)
            tarball = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, DeniedError, ServiceException) as error:
            raise JobFailedError(f"ClientError: InputConfiguration: cannot download {source}: {error}") from error
        with self._lock:
            broken = target.name in faults.broken_builds
            faults.broken_builds.discard(target.name)
        try:
            build = compile_model(tarball, target, broken=broken)
        except InputError as error:
            raise JobFailedError(f"ClientError: InputConfiguration: {error}") from error
        except ToolchainError as error:
            raise JobFailedError(f"LocalCloudError: {error}") from error
        destination = output_uri(source, job.output_config["S3OutputLocation"], target)
        key_id = job.output_config.get("KmsKeyId")
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id} if key_id else {}
        try:
            bucket, key = split_s3_uri(destination)
            s3.put_object(Bucket=bucket, Key=key, Body=build.tarball, **encryption)
        except (ClientError, DeniedError, ServiceException) as error:
            raise JobFailedError(f"ClientError: OutputConfiguration: cannot upload {destination}: {error}") from error
        return destination, hashlib.sha256(build.tarball).hexdigest()
