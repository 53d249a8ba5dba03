"""The one way every piece of the local cloud gets a boto3 client: as the administrator or as a principal.

A leaf module (it imports nothing of the local cloud), so the protocols of the pieces
(:class:`localcloud.interface.Cloud`, the hosting and compilation stand-ins' narrower views) can
all extend it without importing one another.
"""

from __future__ import annotations

from typing import Any, Protocol


class Clients(Protocol):
    """Something that hands out clients of the local cloud (``LocalCloud`` does)."""

    def client(
        self,
        service: str,
        *,
        principal: str | None = None,
        source_arn: str = "",
        assumed_by: str | None = None,
        external_id: str | None = None,
    ) -> Any:
        """A boto3 client, as the administrator or as ``principal`` (see ``LocalCloud.client``)."""
        ...
