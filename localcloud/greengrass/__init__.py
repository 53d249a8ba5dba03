"""AWS IoT Greengrass v2 in the local cloud: the control plane, and a fleet of devices that really run components.

:mod:`~localcloud.greengrass.control` keeps components, deployments and core devices (the HTTP side
is ``localcloud.adapters.greengrassv2``); each deployment creates its IoT job in moto's IoT backend.
:mod:`~localcloud.greengrass.rollout` runs those jobs on stack time (set going by the ``iot_jobs``
adapter): rollout rate, abort criteria, in-progress timeouts. :mod:`~localcloud.greengrass.fleet`
(``cloud.fleet``) is the simulated devices; each (:mod:`~localcloud.greengrass.device`) runs the
lifecycle of its platform's manifest (:mod:`~localcloud.greengrass.recipe`) and rolls back a failed
deployment. ``cloud.fleet_faults`` makes a device's scripts fail or the device fall silent.
"""

from localcloud.greengrass.control import GreengrassError, GreengrassV2Backend
from localcloud.greengrass.fleet import Fleet, FleetError, FleetFaults

__all__ = ["Fleet", "FleetError", "FleetFaults", "GreengrassError", "GreengrassV2Backend"]
