"""The ``conveyor`` command's stack options: the stack's name by either spelling, and one endpoint for every call."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from conveyor_tools.operator_cli import DeployedStack, main
from conveyor_tools.stack import Stack

ENDPOINT = "http://localhost:4566"


class StubbedSession:
    """A boto3 session whose CloudFormation client answers describe_stacks from a Stubber."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(region_name="us-east-1")
        self.stubs: list[Stubber] = []

    def client(self, service: str, **arguments: Any) -> Any:
        client = self.session.client(service, **arguments)
        if service == "cloudformation":
            stub = Stubber(client)
            stub.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "conveyor-dev",
                            "CreationTime": "2026-11-26T12:00:00Z",
                            "StackStatus": "CREATE_COMPLETE",
                            "Outputs": [{"OutputKey": "StateTableName", "OutputValue": "state"}],
                        }
                    ]
                },
                {"StackName": "conveyor-dev"},
            )
            stub.activate()
            self.stubs.append(stub)
        return client


def test_with_an_endpoint_url_every_client_the_stack_gives_calls_it() -> None:
    # Given a deployed stack reached through an endpoint URL
    session = StubbedSession()
    stack = DeployedStack("conveyor-dev", session, ENDPOINT)
    # Then its outputs were read there, and each client it gives calls there too
    assert stack.outputs == {"StateTableName": "state"}
    assert [service.meta.endpoint_url for service in (stack.client("stepfunctions"), stack.client("dynamodb"))] == [
        ENDPOINT,
        ENDPOINT,
    ]
    # And a service's client is made once
    assert stack.client("dynamodb") is stack.client("dynamodb")


class ConnectedError(Exception):
    """Raised by the test's connect, once it has seen what it was asked for."""


@pytest.mark.parametrize("option", ["--stack-name", "--stack"])
def test_the_stack_is_named_by_stack_name_or_its_older_spelling(option: str) -> None:
    asked: list[tuple[str, str | None]] = []

    def connect(name: str, region: str | None) -> Stack:
        asked.append((name, region))
        raise ConnectedError

    with pytest.raises(ConnectedError):
        main([option, "conveyor-prod", "--region", "eu-west-1", "status"], connect=connect)
    assert asked == [("conveyor-prod", "eu-west-1")]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status", "--stack-name", "conveyor-prod", "--region", "eu-west-1"], ("conveyor-prod", "eu-west-1")),
        (
            ["--region", "eu-west-1", "freeze", "--reason", "why", "--stack", "conveyor-prod"],
            ("conveyor-prod", "eu-west-1"),
        ),
        (["--stack-name", "conveyor-prod", "unfreeze", "--reason", "why"], ("conveyor-prod", None)),
        (["teardown"], ("conveyor-dev", None)),
    ],
)
def test_the_stack_options_go_before_or_after_the_command(argv: list[str], expected: tuple[str, str | None]) -> None:
    asked: list[tuple[str, str | None]] = []

    def connect(name: str, region: str | None) -> Stack:
        asked.append((name, region))
        raise ConnectedError

    with pytest.raises(ConnectedError):
        main(argv, connect=connect)
    assert asked == [expected]
