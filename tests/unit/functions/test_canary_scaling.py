"""Auto scaling of the serving variant across the canary's variant changes (EndpointAutoScaling)."""

from __future__ import annotations

import boto3
import pytest
from controller import record_step
from planning import plan, serving_count
from scaling import (
    EndpointScalingError,
    blocked_variants,
    deregister_before_update,
    register_serving_variant,
    scalable_target,
    scaling_policy,
)

from tests.unit.functions.test_canary_controller import NOW, SETTINGS, release, serving, step

SCALING = SETTINGS.model_copy(
    update={
        "endpoint_auto_scaling": True,
        "endpoint_min_instances": 2,
        "endpoint_max_instances": 6,
        "endpoint_target_invocations_per_instance": 750,
    }
)
pytestmark = pytest.mark.usefixtures(serving.__name__)


def variant(name: str, instance_type: str = "ml.m5.large") -> dict[str, str]:
    return {"VariantName": name, "InstanceType": instance_type}


def registered() -> dict[str, int]:
    """Each scaled variant of the endpoint and its policies' count."""
    scaling = boto3.client("application-autoscaling")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return {
        t["ResourceId"].rsplit("/", 1)[1]: sum(p["ResourceId"] == t["ResourceId"] for p in policies) for t in targets
    }


def configure(name: str, variants: list[dict[str, object]]) -> None:
    boto3.client("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants)


def test_an_update_is_blocked_by_the_variants_it_removes_or_retypes_not_by_those_it_keeps() -> None:
    # The canary keeps the champion as it is; promotion removes it; a new instance type changes it
    assert blocked_variants([variant("p1")], [variant("p1"), variant("p2")]) == []
    assert blocked_variants([variant("p1"), variant("p2")], [variant("p2")]) == ["p1"]
    assert blocked_variants([variant("p1")], [variant("p1", "ml.c5.xlarge"), variant("p2")]) == ["p1"]
    # A rollback removes only the challenger, which is never scaled
    assert blocked_variants([variant("p1"), variant("p2")], [variant("p1")]) == ["p2"]


def test_the_serving_variant_tracks_invocations_per_instance_within_the_bounds() -> None:
    target = scalable_target(SCALING, "p2")
    assert target == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/conveyor-dev/variant/p2",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2,
        "MaxCapacity": 6,
    }
    policy = scaling_policy(SCALING, "p2")
    assert policy["ResourceId"] == target["ResourceId"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 750
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["ScaleOutCooldown"] < tracking["ScaleInCooldown"]


def test_a_variant_taking_over_keeps_the_count_the_champion_scaled_to_within_the_bounds() -> None:
    assert [serving_count(SCALING, count) for count in (None, 1, 4, 9)] == [1, 2, 4, 6]
    # Without auto scaling every variant has EndpointInstanceCount
    assert serving_count(SETTINGS, 4) == 1


def test_the_plan_carries_the_champions_scaled_count_into_the_configs_that_serve_its_traffic() -> None:
    # Given the champion p1 has scaled out to 4 instances
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName="conveyor-dev", DesiredWeightsAndCapacities=[{"VariantName": "p1", "DesiredInstanceCount": 4}]
    )
    canary = plan(SCALING, release(2), now=NOW)
    counts = {kind: [(v["VariantName"], v["InitialInstanceCount"]) for v in vs] for kind, vs in canary.variants.items()}
    # The champion keeps 4 beside the canary and after a rollback; the challenger bakes on
    # EndpointInstanceCount and takes the 4 when it is promoted
    assert counts == {"canary": [("p1", 4), ("p2", 1)], "solo": [("p2", 4)], "rollback": [("p1", 4)]}
    assert canary.weights["promote"][0] == {"VariantName": "p2", "DesiredWeight": 1.0, "DesiredInstanceCount": 4}


def test_registering_the_serving_variant_is_idempotent_and_off_by_default() -> None:
    assert register_serving_variant(SETTINGS, "p1").action == "auto_scaling_disabled"
    assert registered() == {}
    for _ in range(2):
        assert register_serving_variant(SCALING, "p1").action == "registered"
    assert registered() == {"p1": 1}


def test_bounds_out_of_order_fail_the_registration_with_their_names() -> None:
    backwards = SCALING.model_copy(update={"endpoint_min_instances": 5, "endpoint_max_instances": 3})
    with pytest.raises(EndpointScalingError, match=r"EndpointMinInstances \(5\) exceeds EndpointMaxInstances \(3\)"):
        register_serving_variant(backwards, "p1")
    assert registered() == {}


def test_promotion_deregisters_the_champion_and_a_retry_finds_nothing_left_to_do() -> None:
    # Given the champion is scaled, and the challenger's config alone is ready
    register_serving_variant(SCALING, "p1")
    configure("solo-p2", plan(SCALING, release(2), now=NOW).variants["solo"])
    # When the step before the update runs (twice: a retry)
    first = record_step(SCALING, step("deregister_scaling", endpoint_config_name="solo-p2"), now=NOW)
    again = record_step(SCALING, step("deregister_scaling", endpoint_config_name="solo-p2"), now=NOW)
    # Then the champion's target went, and the retry had nothing to deregister
    assert (first.action, first.detail) == ("deregistered", {"variants": ["p1"]})
    assert (again.action, again.detail) == ("deregistered", {"variants": []})
    assert registered() == {}


def test_the_canary_update_leaves_the_champion_scaled() -> None:
    register_serving_variant(SCALING, "p1")
    configure("canary-p2", plan(SCALING, release(2), now=NOW).variants["canary"])
    assert deregister_before_update(SCALING, "canary-p2").action == "nothing_to_deregister"
    assert registered() == {"p1": 1}


def test_the_registration_step_names_the_variant_that_serves_alone() -> None:
    outcome = record_step(SCALING, step("register_scaling", variant="p2"), now=NOW)
    assert (outcome.action, outcome.detail) == ("registered", {"variants": ["p2"]})
    assert record_step(SCALING, step("register_scaling"), now=NOW).action == "no_variant"
