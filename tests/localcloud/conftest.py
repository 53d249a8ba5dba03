"""Helpers for the adapter tests: a local cloud with one adapter left out shows the gap it fills."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from localcloud import LocalCloud
from localcloud.adapters import ALL, Adapter
from tests.conftest import TEMPLATE


@contextmanager
def cloud_without(adapter: Adapter) -> Iterator[LocalCloud]:
    """The stack deployed with every adapter but ``adapter``: moto's own behaviour."""
    with LocalCloud.from_template(TEMPLATE, adapters=[a for a in ALL if a is not adapter]) as cloud:
        yield cloud
