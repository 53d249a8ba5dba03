"""Gap: ``!GetAtt <LogGroup>.Arn`` in moto lacks the ``:*`` that CloudFormation gives it.

CloudFormation's ``Arn`` of an ``AWS::Logs::LogGroup`` is ``arn:aws:logs:...:log-group:<name>:*``,
which is what a role's policy needs to cover the group's log streams. Moto returns the ARN
without ``:*``, so a policy built from it covers no stream and every log write is refused.
Fix: the ARN CloudFormation returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.logs.models import LogGroup

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _with_streams(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def get_cfn_attribute(group: Any, attribute_name: str) -> Any:
        value = original(group, attribute_name)
        return f"{value}:*" if attribute_name == "Arn" else value

    return get_cfn_attribute


@contextmanager
def log_group_arn(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(LogGroup, "get_cfn_attribute", _with_streams(LogGroup.get_cfn_attribute)):
        yield
