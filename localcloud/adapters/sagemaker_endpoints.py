"""Gap: moto's SageMaker endpoints neither deploy nor serve.

In moto, InvokeEndpoint answers every request with a fixed placeholder (``b"body"``), for any
endpoint name, ignoring ``TargetVariant``; endpoints are InService the moment they are created;
UpdateEndpoint is not implemented; a variant of weight 0 loses its weight fields, and
UpdateEndpointWeightsAndCapacities without a DesiredInstanceCount drops the instance counts.

Fix: endpoints run on stack time through ``cloud.hosting`` (:mod:`localcloud.hosting`).
CreateEndpoint leaves the endpoint Creating and UpdateEndpoint Updating (refused while one is in
progress, or when it removes or changes the instance type of a variant that Application Auto
Scaling scales), each InService ``cloud.hosting.deploy_seconds`` later; variant weights and
instance counts come from the new configuration unless RetainAllVariantProperties keeps them.
UpdateEndpointWeightsAndCapacities applies what it is given at once. InvokeEndpoint serves the
variant's real XGBoost model, routed by current weight or TargetVariant, publishes SageMaker's
per-variant metrics on stack time and writes data capture. ``cloud.endpoint_faults`` injects
model errors, latency and updates that roll back in silence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import unquote

from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from localcloud.hosting import Hosting, InvokeError
from localcloud.hosting.container import RESPONSE_CONTENT_TYPE

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _create_endpoint(hosting: Hosting, original: Callable[..., FakeEndpoint]) -> Callable[..., FakeEndpoint]:
    def create_endpoint(backend: SageMakerModelBackend, endpoint_name: str, *args: Any, **kwargs: Any) -> FakeEndpoint:
        if endpoint_name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        endpoint = original(backend, endpoint_name, *args, **kwargs)
        hosting.deployments.create(endpoint, backend.endpoint_configs[endpoint.endpoint_config_name])
        return endpoint

    return create_endpoint


def _settled(hosting: Hosting, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, after every deployment due by now has completed."""

    def settled(backend: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        hosting.deployments.settle(backend)
        return original(backend, *args, **kwargs)

    return settled


def _delete_endpoint(hosting: Hosting, original: Callable[..., None]) -> Callable[..., None]:
    def delete_endpoint(backend: SageMakerModelBackend, endpoint_name: str) -> None:
        original(backend, endpoint_name)
        hosting.deployments.delete(FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name))

    return delete_endpoint


def _update_weights(hosting: Hosting) -> Callable[..., str]:
    def update_endpoint_weights_and_capacities(
        backend: SageMakerModelBackend, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]
    ) -> str:
        return hosting.deployments.update_weights(backend, endpoint_name, desired_weights_and_capacities)

    return update_endpoint_weights_and_capacities


def _update_endpoint(hosting: Hosting) -> Callable[[SageMakerResponse], ActionResult]:
    def update_endpoint(response: SageMakerResponse) -> ActionResult:
        excluded = response._get_param("ExcludeRetainedVariantProperties") or []
        arn = hosting.deployments.update(
            response.sagemaker_backend,
            response._get_param("EndpointName"),
            response._get_param("EndpointConfigName"),
            retain=bool(response._get_param("RetainAllVariantProperties")),
            excluded=[entry["VariantPropertyType"] for entry in excluded],
        )
        return ActionResult({"EndpointArn": arn})

    return update_endpoint


def _invoke_endpoint(hosting: Hosting) -> Callable[[SageMakerRuntimeResponse], TYPE_RESPONSE]:
    def invoke_endpoint(response: SageMakerRuntimeResponse) -> TYPE_RESPONSE:
        headers = {name.lower(): value for name, value in response.headers.items()}
        body = response.raw_body or b""
        try:
            variant, answer = hosting.invoke(
                sagemaker_backends[response.current_account][response.region],
                unquote(response.path.split("/")[2]),  # /endpoints/<name>/invocations
                body if isinstance(body, bytes) else str(body).encode(),
                headers.get("content-type"),
                target_variant=headers.get("x-amzn-sagemaker-target-variant"),
                inference_id=headers.get("x-amzn-sagemaker-inference-id"),
            )
        except InvokeError as error:
            # moto reads a response's status from its headers.
            error_headers = {
                "status": str(error.status),
                "x-amzn-ErrorType": error.code,
                "Content-Type": "application/json",
            }
            return error.status, error_headers, json.dumps({"message": error.message, **error.fields})
        return 200, {"Content-Type": RESPONSE_CONTENT_TYPE, "x-Amzn-Invoked-Production-Variant": variant}, answer

    return invoke_endpoint


@contextmanager
def sagemaker_endpoints(cloud: Cloud) -> Iterator[None]:
    hosting = cloud.hosting
    backend = SageMakerModelBackend

    def write_captured_data() -> None:
        hosting.capture.flush(cloud)

    patches: list[Any] = [
        mock.patch.object(backend, "create_endpoint", _create_endpoint(hosting, backend.create_endpoint)),
        mock.patch.object(backend, "describe_endpoint", _settled(hosting, backend.describe_endpoint)),
        mock.patch.object(backend, "list_endpoints", _settled(hosting, backend.list_endpoints)),
        mock.patch.object(backend, "delete_endpoint", _delete_endpoint(hosting, backend.delete_endpoint)),
        mock.patch.object(backend, "update_endpoint_weights_and_capacities", _update_weights(hosting)),
        mock.patch.object(SageMakerResponse, "update_endpoint", _update_endpoint(hosting), create=True),
        mock.patch.object(SageMakerRuntimeResponse, "invoke_endpoint", _invoke_endpoint(hosting)),
    ]
    cloud.tickers.append(write_captured_data)
    try:
        with ExitStack() as stack:
            for patch in patches:
                stack.enter_context(patch)
            yield
    finally:
        cloud.tickers.remove(write_captured_data)
