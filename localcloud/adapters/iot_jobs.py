"""Gap: moto's IoT jobs never progress. A job targeting a thing group has one execution for the group,
not one per thing, stays QUEUED forever, and its ``jobProcessDetails`` are fixed at creation; its
rollout, abort and timeout configurations are kept and ignored.

Fix: a job gets one execution per thing of its target groups (the things in them when it is
created), and rolls out on stack time (:mod:`localcloud.greengrass.rollout`): the simulated fleet's
devices are notified at the rollout rate and report, the abort criteria cancel it, silent devices
time out. Every read of a job or its executions (DescribeJob, ListJobs, DescribeJobExecution,
ListJobExecutionsForJob, ListJobExecutionsForThing) and every ``advance`` first bring the rollouts
up to stack time; CancelJob cancels the queued executions (and, with ``force``, those in progress).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.iot.models import FakeJobExecution, IoTBackend

if TYPE_CHECKING:
    from localcloud.interface import Cloud

SETTLED_READS = (
    "describe_job",
    "list_jobs",
    "describe_job_execution",
    "list_job_executions_for_job",
    "list_job_executions_for_thing",
)


def _things(backend: IoTBackend, target: str) -> list[str]:
    """The names of the things a job target (a thing or a thing group ARN) names now."""
    if ":thinggroup/" in target:
        group = backend.thing_groups.get(target)
        return [thing.thing_name for thing in group.things.values()] if group is not None else []
    return [target.rsplit("/", 1)[-1]]


def _settle_as_a_request(cloud: Cloud) -> None:
    """Settle the rollouts as a request would: under the cloud's request lock, which the devices'
    artifact downloads take again (a request that reads a job holds that lock, then takes the
    rollouts'; the other order would deadlock against it)."""
    with cloud.deliveries.request_lock:
        cloud.fleet.rollouts.settle()


@contextmanager
def iot_jobs(cloud: Cloud) -> Iterator[None]:
    rollouts = cloud.fleet.rollouts
    original_create = IoTBackend.create_job
    original_cancel = IoTBackend.cancel_job

    def create_job(backend: IoTBackend, job_id: str, targets: list[str], *args: Any, **kwargs: Any) -> Any:
        created = original_create(backend, job_id, targets, *args, **kwargs)
        for key in [key for key in backend.job_executions if key[0] == job_id]:
            del backend.job_executions[key]
        executions: dict[str, FakeJobExecution] = {}
        for target in targets:
            for thing in _things(backend, target):
                thing_arn = f"arn:aws:iot:{backend.region_name}:{backend.account_id}:thing/{thing}"
                executions[thing] = backend.job_executions[(job_id, thing)] = FakeJobExecution(job_id, thing_arn)
        rollouts.start(backend.jobs[job_id], executions)
        return created

    def cancel_job(backend: IoTBackend, job_id: str, reason_code: str, comment: str, force: bool) -> Any:
        if rollouts.cancel(job_id, comment, reason_code, force=bool(force)):
            return backend.jobs[job_id]
        return original_cancel(backend, job_id, reason_code, comment, force)

    def settled(read: Callable[..., Any]) -> Callable[..., Any]:
        def settle_first(backend: IoTBackend, *args: Any, **kwargs: Any) -> Any:
            rollouts.settle()
            return read(backend, *args, **kwargs)

        return settle_first

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(IoTBackend, "create_job", create_job))
        stack.enter_context(mock.patch.object(IoTBackend, "cancel_job", cancel_job))
        for name in SETTLED_READS:
            stack.enter_context(mock.patch.object(IoTBackend, name, settled(getattr(IoTBackend, name))))
        settle_between_requests = functools.partial(_settle_as_a_request, cloud)
        cloud.tickers.append(settle_between_requests)
        stack.callback(cloud.tickers.remove, settle_between_requests)
        yield
