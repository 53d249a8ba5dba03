"""The health function, invoked through the local cloud's Lambda API, writes its item."""

from __future__ import annotations

import json

import pytest

from conveyor.state.health import health_checks
from localcloud import LocalCloud
from tests.helpers import load_event

pytestmark = pytest.mark.localcloud


def test_health_function_reports_the_version_and_writes_its_item(cloud: LocalCloud) -> None:
    # Given the deployed stack
    # When an operator invokes the health function
    response = cloud.client("lambda").invoke(
        FunctionName=cloud.outputs["HealthFunctionName"],
        Payload=json.dumps(load_event("operations/health.json")).encode(),
    )
    report = json.loads(response["Payload"].read())
    # Then it returns the deployed version
    assert "FunctionError" not in response
    assert report["version"] == cloud.outputs["Version"]
    # And its check is recorded in the state table
    [check] = health_checks(cloud.outputs["StateTableName"], "dev", dynamodb=cloud.client("dynamodb"))
    assert (check.version, check.stage) == (report["version"], "dev")


def test_what_the_handler_prints_is_kept_as_its_invocation_logs(cloud: LocalCloud) -> None:
    # Powertools writes metrics (EMF) and logs to stdout; the local cloud keeps them per invocation.
    cloud.client("lambda").invoke(FunctionName=cloud.outputs["HealthFunctionName"])
    [invocation] = cloud.runtime.invocations
    [emf] = [json.loads(line) for line in invocation.logs.splitlines() if '"_aws"' in line]
    assert emf["HealthChecks"] == [1.0]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Conveyor"
