"""UpdateEndpoint moves an endpoint to a new configuration and its variant weights."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.sagemaker_update_endpoint import sagemaker_update_endpoint
from tests.localcloud.conftest import cloud_without

pytestmark = pytest.mark.localcloud


def variant(name: str, weight: float) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def serve_champion_then_configure_canary(cloud: LocalCloud) -> Any:
    sagemaker = cloud.client("sagemaker")
    for model in ("champion", "challenger"):
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/model",
            PrimaryContainer={"Image": "xgboost", "ModelDataUrl": f"s3://artifacts/{model}.tar.gz"},
        )
    sagemaker.create_endpoint_config(EndpointConfigName="solo", ProductionVariants=[variant("champion", 1)])
    sagemaker.create_endpoint_config(
        EndpointConfigName="canary",
        ProductionVariants=[variant("champion", 90), variant("challenger", 10)],
    )
    sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="solo")
    return sagemaker


def test_gap_moto_does_not_implement_update_endpoint() -> None:
    with cloud_without(sagemaker_update_endpoint) as cloud:
        sagemaker = serve_champion_then_configure_canary(cloud)
        with pytest.raises((ClientError, NotImplementedError)):
            sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary")


def test_fix_the_endpoint_runs_the_new_configuration_with_its_weights(cloud: LocalCloud) -> None:
    sagemaker = serve_champion_then_configure_canary(cloud)
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary")
    endpoint = sagemaker.describe_endpoint(EndpointName="serving")
    assert endpoint["EndpointConfigName"] == "canary"
    assert endpoint["EndpointStatus"] == "InService"
    assert {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]} == {
        "champion": 90,
        "challenger": 10,
    }


def test_fix_an_unknown_configuration_is_refused(cloud: LocalCloud) -> None:
    sagemaker = serve_champion_then_configure_canary(cloud)
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="missing")
    assert sagemaker.describe_endpoint(EndpointName="serving")["EndpointConfigName"] == "solo"
