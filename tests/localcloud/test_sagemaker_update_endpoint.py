"""UpdateEndpoint deploys a new configuration on stack time, as SageMaker does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.adapters.sagemaker_endpoints import sagemaker_endpoints
from tests.localcloud.endpoint_stack import configure, deploy, endpoint_cloud, invoke, variant, weights

pytestmark = pytest.mark.localcloud


@pytest.fixture
def serving() -> Iterator[LocalCloud]:
    """The champion alone on endpoint "serving" (configuration "solo"), and a canary configuration ready."""
    with endpoint_cloud() as cloud:
        deploy(cloud, "serving", "solo", variant("champion", 1))
        configure(cloud, "canary", variant("champion", 90), variant("challenger", 10))
        yield cloud


def describe(cloud: LocalCloud) -> dict[str, object]:
    endpoint: dict[str, object] = cloud.client("sagemaker").describe_endpoint(EndpointName="serving")
    return endpoint


def test_gap_moto_does_not_implement_update_endpoint() -> None:
    with endpoint_cloud(without=[sagemaker_endpoints]) as cloud:
        sagemaker = cloud.client("sagemaker")
        configure(cloud, "solo", variant("champion", 1))
        configure(cloud, "canary", variant("champion", 90), variant("challenger", 10))
        sagemaker.create_endpoint(EndpointName="serving", EndpointConfigName="solo")
        with pytest.raises((ClientError, NotImplementedError)):
            sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary")


def test_fix_the_old_configuration_serves_until_the_update_is_done(serving: LocalCloud) -> None:
    # When the endpoint is updated to the canary configuration
    serving.client("sagemaker").update_endpoint(EndpointName="serving", EndpointConfigName="canary")
    # Then it is Updating, still runs the old configuration, and shows the new one as pending
    endpoint = describe(serving)
    assert endpoint["EndpointStatus"] == "Updating"
    assert endpoint["EndpointConfigName"] == "solo"
    assert endpoint["PendingDeploymentSummary"]["EndpointConfigName"] == "canary"  # type: ignore[index]
    assert weights(serving, "serving") == {"champion": 1}
    assert invoke(serving, "serving", "300.0,310.0,1500,40.0,100,4.0")[0] == "champion"


def test_fix_the_endpoint_runs_the_new_configuration_with_its_weights(serving: LocalCloud) -> None:
    serving.client("sagemaker").update_endpoint(EndpointName="serving", EndpointConfigName="canary")
    # When the deployment time has passed
    serving.advance(seconds=serving.hosting.deploy_seconds)
    endpoint = describe(serving)
    assert endpoint["EndpointConfigName"] == "canary"
    assert endpoint["EndpointStatus"] == "InService"
    assert "PendingDeploymentSummary" not in endpoint
    assert weights(serving, "serving") == {"champion": 90, "challenger": 10}


def test_fix_an_update_while_updating_is_refused(serving: LocalCloud) -> None:
    sagemaker = serving.client("sagemaker")
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="solo")


def test_fix_retained_variant_properties_keep_the_running_weights(serving: LocalCloud) -> None:
    # Given the champion's weight changed on the running endpoint
    sagemaker = serving.client("sagemaker")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredWeight": 3}]
    )
    serving.advance(seconds=serving.hosting.deploy_seconds)  # (Updating until the change completes)
    # When it is updated to the canary configuration, retaining variant properties
    sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary", RetainAllVariantProperties=True)
    serving.advance(seconds=serving.hosting.deploy_seconds)
    # Then the champion keeps its running weight; the new challenger takes the configuration's
    assert weights(serving, "serving") == {"champion": 3, "challenger": 10}


def test_fix_excluded_properties_come_from_the_new_configuration(serving: LocalCloud) -> None:
    sagemaker = serving.client("sagemaker")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredInstanceCount": 3}]
    )
    serving.advance(seconds=serving.hosting.deploy_seconds)
    sagemaker.update_endpoint(
        EndpointName="serving",
        EndpointConfigName="canary",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    serving.advance(seconds=serving.hosting.deploy_seconds)
    [champion, _] = describe(serving)["ProductionVariants"]  # type: ignore[misc]
    assert (champion["CurrentWeight"], champion["CurrentInstanceCount"]) == (90, 3)


def test_fix_a_weight_change_leaves_the_endpoint_updating_and_refusing_updates_until_it_completes(
    serving: LocalCloud,
) -> None:
    sagemaker = serving.client("sagemaker")
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="serving", DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredWeight": 3}]
    )
    assert describe(serving)["EndpointStatus"] == "Updating"
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="canary")
    serving.advance(seconds=serving.hosting.deploy_seconds)
    assert describe(serving)["EndpointStatus"] == "InService"


def test_fix_an_unknown_configuration_is_refused(serving: LocalCloud) -> None:
    sagemaker = serving.client("sagemaker")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.update_endpoint(EndpointName="serving", EndpointConfigName="missing")
    assert describe(serving)["EndpointConfigName"] == "solo"


def test_fix_an_unknown_endpoint_is_refused(serving: LocalCloud) -> None:
    with pytest.raises(ClientError, match="Could not find endpoint"):
        serving.client("sagemaker").update_endpoint(EndpointName="missing", EndpointConfigName="canary")
