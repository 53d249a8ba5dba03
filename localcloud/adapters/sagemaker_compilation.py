"""Gap: moto's compilation jobs complete at once, compile nothing and cannot be stopped.

Moto marks every compilation job COMPLETED when it is created, writes no artifact, reports the
output folder as the model artifact with a made-up digest, and has no StopCompilationJob. Fix:
jobs run on stack time through ``cloud.compilation`` (:mod:`localcloud.compilation`): INPROGRESS
for ``cloud.compilation.compile_seconds``, then the Neo stand-in really compiles the packaged
XGBoost model for the target's architecture (treelite, tl2cgen, gcc or a cross gcc) as the job's
role, and the job is COMPLETED with the artifact Neo would write (``<input name>-<target>.tar.gz``
in the output location), or FAILED with its reason. StopCompilationJob stops a running job
(STOPPING, then STOPPED). CreateCompilationJob refuses what SageMaker refuses at once: values
outside the model's enums, and an OutputConfig with both or neither of TargetDevice and
TargetPlatform. ``cloud.compilation_faults`` injects failed jobs and builds that are wrong on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from unittest import mock

import botocore.session
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from localcloud.compilation import Compilations

if TYPE_CHECKING:
    from localcloud.interface import Cloud

# Placeholders moto puts in every description; SageMaker has no such fields for these jobs.
_PLACEHOLDERS = ("InferenceImage", "DerivedInformation")


@cache
def _enum(shape: str) -> tuple[str, ...]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for(shape).enum)


def _refuse_invalid(input_config: dict[str, Any] | None, output_config: dict[str, Any]) -> None:
    """Raise the ValidationException SageMaker answers a CreateCompilationJob with, if any."""
    target_platform = output_config.get("TargetPlatform") or {}
    fields = [
        ("inputConfig.framework", (input_config or {}).get("Framework"), "Framework"),
        ("outputConfig.targetDevice", output_config.get("TargetDevice"), "TargetDevice"),
        ("outputConfig.targetPlatform.os", target_platform.get("Os"), "TargetPlatformOs"),
        ("outputConfig.targetPlatform.arch", target_platform.get("Arch"), "TargetPlatformArch"),
        ("outputConfig.targetPlatform.accelerator", target_platform.get("Accelerator"), "TargetPlatformAccelerator"),
    ]
    errors = [
        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: "
        f"[{', '.join(_enum(shape))}]"
        for path, value, shape in fields
        if value is not None and value not in _enum(shape)
    ]
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
        raise ValidationError(message=count + "; ".join(errors))
    if ("TargetDevice" in output_config) == bool(target_platform):
        raise ValidationError(message="OutputConfig must specify either TargetDevice or TargetPlatform, not both.")


def _create(compilations: Compilations, original: Callable[..., str]) -> Callable[..., str]:
    def create_compilation_job(backend: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        _refuse_invalid(kwargs.get("input_config"), kwargs.get("output_config") or {})
        arn = original(backend, *args, **kwargs)
        compilations.start(backend.compilation_jobs[kwargs["compilation_job_name"]])
        return arn

    return create_compilation_job


def _describe(compilations: Compilations, original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def describe_compilation_job(backend: SageMakerModelBackend, compilation_job_name: str) -> dict[str, Any]:
        compilations.settle(backend)
        described = original(backend, compilation_job_name)
        return {k: v for k, v in described.items() if v not in (None, "") and k not in _PLACEHOLDERS}

    return describe_compilation_job


def _settled(compilations: Compilations, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, after every job due by now has finished."""

    def settled(backend: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        compilations.settle(backend)
        return original(backend, *args, **kwargs)

    return settled


def _delete(compilations: Compilations, original: Callable[..., None]) -> Callable[..., None]:
    def delete_compilation_job(backend: SageMakerModelBackend, compilation_job_name: str) -> None:
        job = backend.compilation_jobs.get(compilation_job_name)
        original(backend, compilation_job_name)
        if job is not None:
            compilations.forget(job.arn)

    return delete_compilation_job


def _stop(compilations: Compilations) -> Callable[[SageMakerResponse], ActionResult]:
    def stop_compilation_job(response: SageMakerResponse) -> ActionResult:
        compilations.stop(response.sagemaker_backend, response._get_param("CompilationJobName"))
        return EmptyResult()

    return stop_compilation_job


@contextmanager
def sagemaker_compilation(cloud: Cloud) -> Iterator[None]:
    compilations = cloud.compilation
    backend = SageMakerModelBackend
    patches: list[Any] = [
        mock.patch.object(backend, "create_compilation_job", _create(compilations, backend.create_compilation_job)),
        mock.patch.object(
            backend, "describe_compilation_job", _describe(compilations, backend.describe_compilation_job)
        ),
        mock.patch.object(backend, "list_compilation_jobs", _settled(compilations, backend.list_compilation_jobs)),
        mock.patch.object(backend, "delete_compilation_job", _delete(compilations, backend.delete_compilation_job)),
        mock.patch.object(SageMakerResponse, "stop_compilation_job", _stop(compilations), create=True),
    ]
    with ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
