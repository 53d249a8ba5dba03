"""Gap: ``!Ref`` of an ``AWS::Lambda::LayerVersion`` resolves to a Python repr in moto.

CloudFormation's Ref of a layer version is its ARN. Moto's ``LayerVersion`` has no
``physical_resource_id``, so functions get a layer named ``<moto...LayerVersion object at ...>``
and the stack's output shows the same. Fix: give it the ARN.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.awslambda.models import LayerVersion

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _arn(layer_version: Any) -> str:
    arn: str = layer_version.arn
    return arn


@contextmanager
def layer_version_ref(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(LayerVersion, "physical_resource_id", property(_arn), create=True):
        yield
