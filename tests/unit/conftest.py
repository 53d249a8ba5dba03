"""Unit tests never touch the network: any socket connection fails the test."""

from __future__ import annotations

import socket
from typing import Any

import boto3
import pytest

from conveyor import aws
from localcloud.template import load_sam_template
from tests.conftest import TEMPLATE


class NetworkAccessInUnitTestError(Exception):
    """A unit test tried to open a network connection."""


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkAccessInUnitTestError(f"unit tests must not connect: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")


def create_state_table(name: str = "state") -> str:
    """The stack's state table, created in moto from template.yaml's StateTable (so the two cannot
    drift); its name. Call it inside ``mock_aws()``."""
    properties = load_sam_template(TEMPLATE)["Resources"]["StateTable"]["Properties"]
    aws.client.cache_clear()
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
    )
    return name
