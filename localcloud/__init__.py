"""The local cloud: Conveyor's own template, state machines and handlers on one machine.

No AWS account and no Docker: moto emulates the services, small adapters fill its gaps, and
managed compute gets real local stand-ins. Tests and ``make demo`` use :class:`LocalCloud`.
"""

from localcloud.cloud import LocalCloud, LocalCloudError

__all__ = ["LocalCloud", "LocalCloudError"]
