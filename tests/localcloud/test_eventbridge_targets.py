"""EventBridge rules deliver to Lambda functions and state machines."""

from __future__ import annotations

import json

import pytest

from localcloud import LocalCloud
from localcloud.adapters.eventbridge_targets import eventbridge_targets
from tests.localcloud.conftest import allow_events, cloud_without, service_role

pytestmark = pytest.mark.localcloud

EVENT = {"Source": "conveyor.test", "DetailType": "Check Requested", "Detail": json.dumps({"reason": "test"})}
PATTERN = json.dumps({"source": ["conveyor.test"], "detail-type": ["Check Requested"]})


def route_to(cloud: LocalCloud, target_arn: str, **target: str) -> str:
    """A rule for :data:`EVENT` with one target; return the rule's ARN."""
    events = cloud.client("events")
    rule_arn: str = events.put_rule(Name="check-requested", EventPattern=PATTERN)["RuleArn"]
    events.put_targets(Rule="check-requested", Targets=[{"Id": "target", "Arn": target_arn, **target}])
    return rule_arn


def route_to_function(cloud: LocalCloud, function_arn: str) -> None:
    """A rule that invokes ``function_arn``, which lets EventBridge invoke it for that rule only."""
    allow_events(cloud, function_arn, route_to(cloud, function_arn))


def health_function_arn(cloud: LocalCloud) -> str:
    configuration = cloud.client("lambda").get_function(FunctionName=cloud.outputs["HealthFunctionName"])
    arn: str = configuration["Configuration"]["FunctionArn"]
    return arn


def test_gap_moto_cannot_deliver_to_a_function() -> None:
    with cloud_without(eventbridge_targets) as cloud:
        route_to_function(cloud, health_function_arn(cloud))
        with pytest.raises(Exception, match=r"NotImplementedError|Expr not defined"):
            cloud.client("events").put_events(Entries=[EVENT])
        assert cloud.runtime.invocations == []


def test_fix_a_matching_event_invokes_the_function_with_the_event(cloud: LocalCloud) -> None:
    route_to_function(cloud, health_function_arn(cloud))
    cloud.client("events").put_events(Entries=[EVENT])
    [invocation] = cloud.runtime.invocations
    assert invocation.function_name == cloud.outputs["HealthFunctionName"]
    assert invocation.event["detail"] == {"reason": "test"}
    assert invocation.error_type is None


def test_fix_a_matching_event_starts_the_state_machine_with_the_input_path(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="on-check",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=service_role(cloud, "on-check", "states.amazonaws.com"),
    )["stateMachineArn"]
    starter = service_role(
        cloud, "on-check-starter", "events.amazonaws.com", {"Action": "states:StartExecution", "Resource": machine}
    )
    route_to(cloud, machine, InputPath="$.detail", RoleArn=starter)
    cloud.client("events").put_events(Entries=[EVENT])
    cloud.run_until_idle()
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    description = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(description["input"]) == {"reason": "test"}


def test_events_that_do_not_match_deliver_nothing(cloud: LocalCloud) -> None:
    route_to_function(cloud, health_function_arn(cloud))
    cloud.client("events").put_events(Entries=[{**EVENT, "Source": "someone.else"}])
    assert cloud.runtime.invocations == []
