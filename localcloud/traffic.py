"""Steady request traffic to SageMaker endpoints on stack time, for tests, the demo and the bench.

``cloud.traffic.start(endpoint_name, rows, per_second=...)`` sends InvokeEndpoint requests
(``text/csv``, one row each, cycling through ``rows``) at a steady rate while stack time
advances: ``cloud.advance(...)`` moves the clock to each request's own moment before sending it,
and runs alarm evaluation and the other tickers between requests at least every
:data:`localcloud.cloud.ADVANCE_STEP` of stack time, so metrics, alarms and reactions to them
interleave as they would on AWS. Nothing is sent while time stands still. Every request is in
``cloud.traffic.log`` (and its stream's ``log``), with what the caller saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from localcloud.interface import Cloud


@dataclass(frozen=True)
class Request:
    """One request sent and what came back."""

    at: datetime
    """The stack-time moment it was sent."""
    endpoint_name: str
    variant: str | None
    """The variant that answered it (None when the endpoint refused it before routing)."""
    ok: bool
    status: int
    """200, the model's HTTP status for a ModelError (OriginalStatusCode), or the API's status."""
    error: str | None
    """The error code (``ModelError``, ``ValidationError``...), None when ``ok``."""
    latency_ms: float | None
    """The endpoint's model plus overhead latency (ModelLatency + OverheadLatency), None when not routed."""
    inference_id: str


def _csv(row: str | Sequence[float]) -> str:
    return row if isinstance(row, str) else ",".join(str(value) for value in row)


@dataclass
class Stream:
    """Requests to one endpoint at a steady rate, until stopped."""

    endpoint_name: str
    rows: list[str]
    per_second: float
    target_variant: str | None
    client: Any
    next_at: datetime
    name: str
    log: list[Request] = field(default_factory=list)
    running: bool = True
    _rows: Iterator[str] = field(init=False, repr=False)
    _sent: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._rows = itertools.cycle(self.rows)

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.per_second)

    def stop(self) -> None:
        """Send nothing more."""
        self.running = False

    def next_request(self) -> tuple[str, str]:
        """The next (row, inference id) to send."""
        self._sent += 1
        return next(self._rows), f"{self.name}-{self._sent}"


class Traffic:
    """Request streams to the local cloud's endpoints (``cloud.traffic``)."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self.streams: list[Stream] = []
        self.log: list[Request] = []
        """Every request sent by every stream, in the order sent."""

    def start(
        self,
        endpoint_name: str,
        rows: Sequence[str | Sequence[float]],
        *,
        per_second: float,
        target_variant: str | None = None,
        principal: str | None = None,
    ) -> Stream:
        """Send one row of ``rows`` (CSV text or numbers; cycled) to ``endpoint_name`` every
        ``1 / per_second`` seconds of stack time from now on, as ``principal`` (default: the administrator)."""
        if per_second <= 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        if not rows:
            raise ValueError("traffic needs at least one row to send")
        stream = Stream(
            endpoint_name=endpoint_name,
            rows=[_csv(row) for row in rows],
            per_second=per_second,
            target_variant=target_variant,
            client=self._cloud.client("sagemaker-runtime", principal=principal),
            next_at=self._cloud.clock.now() + timedelta(seconds=1 / per_second),
            name=f"traffic-{len(self.streams) + 1}",
        )
        self.streams.append(stream)
        return stream

    def stop(self) -> None:
        """Stop every stream."""
        for stream in self.streams:
            stream.stop()

    @property
    def running(self) -> bool:
        return any(stream.running for stream in self.streams)

    def run_until(self, moment: datetime) -> None:
        """Send every request due by ``moment``, in time order, moving stack time to each one's moment."""
        clock = self._cloud.clock
        while True:
            due = [s for s in self.streams if s.running and s.next_at <= moment]
            if not due:
                return
            stream = min(due, key=lambda s: s.next_at)
            gap = stream.next_at - clock.now()
            if gap > timedelta():
                clock.advance(gap)
            self._send(stream)
            stream.next_at += stream.interval

    def _send(self, stream: Stream) -> None:
        row, inference_id = stream.next_request()
        arguments: dict[str, Any] = {
            "EndpointName": stream.endpoint_name,
            "Body": row.encode(),
            "ContentType": "text/csv",
            "InferenceId": inference_id,
        }
        if stream.target_variant is not None:
            arguments["TargetVariant"] = stream.target_variant
        at = self._cloud.clock.now()
        try:
            answer = stream.client.invoke_endpoint(**arguments)
            answer["Body"].read()
            variant, status, error = answer.get("InvokedProductionVariant"), 200, None
        except ClientError as refused:
            variant, error = None, refused.response["Error"]["Code"]
            status = refused.response.get("OriginalStatusCode", refused.response["ResponseMetadata"]["HTTPStatusCode"])
        served = self._cloud.hosting.served(inference_id)
        if served is not None:
            variant = served.variant_name
        latency = (served.model_latency_us + served.overhead_latency_us) / 1000 if served is not None else None
        request = Request(at, stream.endpoint_name, variant, error is None, int(status), error, latency, inference_id)
        stream.log.append(request)
        self.log.append(request)
