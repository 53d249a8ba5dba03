"""What hosting uses of the running local cloud.

A narrower view than :class:`localcloud.interface.Cloud`, which names ``cloud.hosting`` and so
imports this package: hosting depends on this protocol instead, and nothing imports back.
"""

from __future__ import annotations

from typing import Protocol

from localcloud.clients import Clients
from localcloud.clock import Clock
from localcloud.hosting.faults import EndpointFaults


class Host(Clients, Protocol):
    account_id: str
    region: str
    clock: Clock
    endpoint_faults: EndpointFaults
    undelivered: list[tuple[str, str, str]]
    """(source ARN, target ARN, why) of each delivery a service made and was refused."""
