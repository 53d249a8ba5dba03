"""What adapters, provisioners and stand-ins may use of the running local cloud.

They depend on this small interface, not on :class:`localcloud.cloud.LocalCloud`, which imports
them: so no module of the local cloud imports one that imports it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from localcloud.clients import Clients
from localcloud.clock import Clock
from localcloud.cloudtrail import LocalCloudTrail
from localcloud.compilation import CompilationFaults, Compilations
from localcloud.delivery import Deliveries
from localcloud.greengrass import Fleet, FleetFaults, GreengrassV2Backend
from localcloud.hosting import EndpointFaults, Hosting
from localcloud.iam import Authority
from localcloud.training import TrainingFaults


class Cloud(Clients, Protocol):
    """The running local cloud, as the pieces it installs see it."""

    account_id: str
    region: str
    clock: Clock
    deliveries: Deliveries
    """How services deliver events: once and in order, or at least once (:mod:`localcloud.delivery`)."""
    physical_ids: dict[str, str]
    """Each template resource's physical id, by logical id."""
    authority: Authority
    training_faults: TrainingFaults
    compilation_faults: CompilationFaults
    compilation: Compilations
    """SageMaker Neo compilation jobs on stack time (:mod:`localcloud.compilation`)."""
    endpoint_faults: EndpointFaults
    hosting: Hosting
    """SageMaker real-time hosting on stack time (:mod:`localcloud.hosting`)."""
    greengrass: GreengrassV2Backend | None
    fleet: Fleet
    """Simulated Greengrass core devices and the IoT jobs rolling out to them (:mod:`localcloud.greengrass`)."""
    fleet_faults: FleetFaults
    cloudtrail: LocalCloudTrail | None
    """CloudTrail's delivery of API calls to EventBridge (set by its adapter)."""
    before_advance: list[Callable[[], None]]
    """Called on every ``advance``, before the clock moves."""
    tickers: list[Callable[[], None]]
    """Called on every ``advance``, after the clock moved."""
    undelivered: list[tuple[str, str, str]]
    """(source ARN, target ARN, why) of each delivery a service made and was refused."""
