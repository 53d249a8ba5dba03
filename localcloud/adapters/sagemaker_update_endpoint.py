"""Gap: moto does not implement SageMaker's UpdateEndpoint.

Canary releases move an endpoint from one endpoint configuration to the next; moto answers
``UpdateEndpoint`` with "not yet implemented". Fix: switch the endpoint to the new configuration
and its production variants (weights and instance counts), as SageMaker does once the update
finishes. Unknown endpoints and configurations are refused with SageMaker's ValidationException.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from unittest import mock

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def update_endpoint(backend: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> str:
    """Point ``endpoint_name`` at ``endpoint_config_name``; return the endpoint's ARN."""
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = backend.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    return str(endpoint.arn)


def update_endpoint_response(response: SageMakerResponse) -> ActionResult:
    arn = update_endpoint(
        response.sagemaker_backend,
        endpoint_name=response._get_param("EndpointName"),
        endpoint_config_name=response._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": arn})


@contextmanager
def sagemaker_update_endpoint(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(SageMakerResponse, "update_endpoint", update_endpoint_response, create=True):
        yield
