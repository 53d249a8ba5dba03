"""SageMaker real-time hosting in the local cloud: endpoints that deploy on stack time and serve.

``cloud.hosting`` answers InvokeEndpoint (:meth:`Hosting.invoke`) with the real predictions of
the variant's model: a request goes to a variant drawn by the variants' current weights with a
seeded generator, so a run replays, or to its ``TargetVariant`` whatever that variant's weight.
Each answered request publishes its variant's metrics (:mod:`localcloud.hosting.metrics`), is
kept in ``invocations``, and is captured when the endpoint's configuration asks
(:mod:`localcloud.hosting.capture`). Faults from ``cloud.endpoint_faults`` apply per variant.
The endpoints' lifecycle is :mod:`localcloud.hosting.deployments`.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.sagemaker.models import SageMakerModelBackend

from localcloud.hosting.capture import CaptureBuffer, capture_record
from localcloud.hosting.container import RESPONSE_CONTENT_TYPE, ContainerError, predict
from localcloud.hosting.deployments import DEFAULT_DEPLOY_SECONDS, Deployments
from localcloud.hosting.endpoints import HostedEndpoint, Variant
from localcloud.hosting.metrics import publish_invocation

if TYPE_CHECKING:
    from datetime import datetime

    from localcloud.hosting.host import Host

INJECTED_ERROR = "Internal server error (injected by cloud.endpoint_faults)"


class InvokeError(Exception):
    """What sagemaker-runtime answers an InvokeEndpoint with instead of a prediction."""

    def __init__(self, code: str, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.fields = fields


@dataclass(frozen=True)
class Invocation:
    """One request a variant answered: ``status`` is the model's HTTP status (200 when it succeeded)."""

    at: datetime
    endpoint_name: str
    variant_name: str
    status: int
    model_latency_us: float
    overhead_latency_us: float
    inference_id: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200


class Hosting:
    """The local stand-in for SageMaker real-time hosting (``cloud.hosting``)."""

    def __init__(self, cloud: Host, *, deploy_seconds: float = DEFAULT_DEPLOY_SECONDS, seed: int = 0) -> None:
        self.cloud = cloud
        self.deployments = Deployments(cloud, deploy_seconds=deploy_seconds)
        self.invocations: list[Invocation] = []
        """Every request a variant answered, in order."""
        self.capture = CaptureBuffer()
        """Captured requests, written to S3 on each ``cloud.advance``."""
        self._random = random.Random(seed)
        self._lock = threading.RLock()

    @property
    def deploy_seconds(self) -> float:
        """Stack time from CreateEndpoint or UpdateEndpoint to InService (60 s unless set)."""
        return self.deployments.deploy_seconds

    @deploy_seconds.setter
    def deploy_seconds(self, seconds: float) -> None:
        self.deployments.deploy_seconds = seconds

    def seed(self, seed: int) -> None:
        """Restart the draws (routing by weight, injected errors, capture sampling) from ``seed``."""
        with self._lock:
            self._random = random.Random(seed)

    def invoke(
        self,
        backend: SageMakerModelBackend,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        *,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> tuple[str, bytes]:
        """Answer one InvokeEndpoint: (the variant that served it, its CSV predictions), or raise
        :class:`InvokeError` as sagemaker-runtime answers (ValidationError, ModelError)."""
        started = time.perf_counter()
        at = self.cloud.clock.now()
        hosted = self.deployments.serving(backend, endpoint_name)
        with self._lock:
            if hosted is None or hosted.serving is None:
                message = f"Endpoint {endpoint_name} of account {backend.account_id} not found."
                raise InvokeError("ValidationError", 400, message)
            variant = self._route(hosted, target_variant)
            faults = self.cloud.endpoint_faults.of(endpoint_name, variant.name)
            fails = faults.error_rate > 0 and self._random.random() < faults.error_rate
            capture = hosted.serving.capture
            captured = capture is not None and self._sampled(capture)
            model = hosted.models[variant.name]
        model_started, model_cpu_started = time.perf_counter(), time.thread_time()
        status, answer, original = 200, b"", ""
        try:
            if fails:
                raise ContainerError(500, INJECTED_ERROR)
            answer = predict(model.booster, body, content_type)
        except ContainerError as error:
            status, original = error.status, error.message
        # ModelLatency is the model's own compute time, as on an instance that serves nothing else.
        # This process shares its cores and its GIL with the whole local cloud (and, in CI, with
        # other tests), so the wall time of the call would add other threads' work to it.
        model_seconds = time.thread_time() - model_cpu_started
        overhead_us = (model_started - started) * 1e6
        invocation = Invocation(
            at,
            endpoint_name,
            variant.name,
            status,
            model_seconds * 1e6 + faults.latency_ms * 1e3,
            overhead_us,
            inference_id,
        )
        self._record(invocation)
        if status != 200:
            raise _model_error(backend, endpoint_name, status, original)
        if captured and capture is not None:
            self.capture.add(
                capture,
                endpoint=(endpoint_name, hosted.arn),
                variant_name=variant.name,
                role_arn=model.role_arn,
                line=capture_record(
                    capture,
                    request=(body, content_type),
                    response=(answer, RESPONSE_CONTENT_TYPE),
                    at=at,
                    inference_id=inference_id,
                ),
                at=at,
            )
        return variant.name, answer

    def served(self, inference_id: str) -> Invocation | None:
        """The request a variant answered with this InferenceId, if any."""
        with self._lock:
            return next((i for i in reversed(self.invocations) if i.inference_id == inference_id), None)

    def _route(self, hosted: HostedEndpoint, target_variant: str | None) -> Variant:
        serving = hosted.serving
        assert serving is not None  # the caller checked
        if target_variant is not None:
            variant = serving.variant(target_variant)
            if variant is None:
                raise InvokeError(
                    "ValidationError", 400, f"Variant {target_variant} not found for endpoint {hosted.name}."
                )
            return variant
        weighted = [v for v in serving.variants if v.weight > 0]
        if not weighted:
            raise InvokeError("ValidationError", 400, f"No variant of endpoint {hosted.name} has a weight above 0.")
        return self._random.choices(weighted, weights=[v.weight for v in weighted])[0]

    def _sampled(self, capture: dict[str, Any]) -> bool:
        percentage = float(capture.get("InitialSamplingPercentage", 100))
        if percentage >= 100 or percentage <= 0:
            return percentage >= 100
        return self._random.random() * 100 < percentage

    def _record(self, invocation: Invocation) -> None:
        publish_invocation(
            self.cloud.account_id,
            self.cloud.region,
            endpoint_name=invocation.endpoint_name,
            variant_name=invocation.variant_name,
            at=invocation.at,
            status=invocation.status,
            model_latency_us=invocation.model_latency_us,
            overhead_latency_us=invocation.overhead_latency_us,
        )
        with self._lock:
            self.invocations.append(invocation)


def _model_error(backend: SageMakerModelBackend, endpoint_name: str, status: int, original: str) -> InvokeError:
    """The ModelError SageMaker answers with when the container answered an error status."""
    region, account = backend.region_name, backend.account_id
    group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    kind = "server" if status >= 500 else "client"
    message = (
        f'Received {kind} error ({status}) from primary with message "{original}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} "
        f"in account {account} for more information."
    )
    return InvokeError(
        "ModelError",
        424,
        message,
        OriginalStatusCode=status,
        OriginalMessage=original,
        LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{group}",
    )
