"""Gap: moto's Firehose never invokes a delivery stream's processor Lambda.

Records put to a stream with a Lambda processor land in S3 untransformed. Fix: before writing
to S3, invoke the processor with Firehose's transformation event, as Firehose does, and apply
its answer: ``Ok`` records (their returned data) go under ``Prefix``; ``Dropped`` records go
nowhere; ``ProcessingFailed`` records, and every record of a batch whose invocation failed or
whose answer lost or repeated a recordId, go under ``ErrorOutputPrefix`` as Firehose's error
documents (``processing-failed``). Prefix expressions ``!{timestamp:...}``,
``!{firehose:error-output-type}`` and ``!{firehose:random-string}`` are expanded.
Each PutRecordBatch is delivered at once, as one object: the local cloud does not buffer.
Writing each object is one delivery on the stream's channel of the cloud's deliveries
(:mod:`localcloud.delivery`): in the at-least-once mode an object may be written twice (Firehose
retried a write that had gone through: the same key again, a new version) or after later ones.
Firehose acts under the stream's delivery role (assumed with the account as external id): it
invokes the processor and writes to S3 as that role. A write the role may not make is logged
to the stream's error log and retried on every ``cloud.advance``, for up to 24 hours of stack
time, as Firehose retries S3 delivery; nothing is written elsewhere meanwhile.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.firehose.models import FirehoseBackend

from localcloud.delivery import channel

if TYPE_CHECKING:
    from localcloud.interface import Cloud

_EXPRESSION = re.compile(r"!\{(timestamp|firehose):([^}]*)\}")
# Java date patterns Firehose accepts in !{timestamp:...}, as strftime directives.
_JAVA_DATE = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]
_DEFAULT_TIME_PREFIX = "%Y/%m/%d/%H/"
DELIVERY_RETRY = timedelta(hours=24)


def expand_prefix(prefix: str, now: datetime, error_output_type: str | None = None) -> str:
    """A Firehose S3 prefix with its expressions evaluated; the default time path if it has none."""
    if not _EXPRESSION.search(prefix):
        return prefix + now.strftime(_DEFAULT_TIME_PREFIX)

    def evaluate(match: re.Match[str]) -> str:
        namespace, argument = match.groups()
        if namespace == "timestamp":
            pattern = argument
            for java, directive in _JAVA_DATE:
                pattern = pattern.replace(java, directive)
            return now.strftime(pattern)
        if argument == "error-output-type":
            return error_output_type or ""
        if argument == "random-string":
            return uuid.uuid4().hex[:11]
        raise ValueError(f"unsupported Firehose prefix expression !{{{namespace}:{argument}}}")

    return _EXPRESSION.sub(evaluate, prefix)


def processor_arn(destination: dict[str, Any]) -> str | None:
    """The Lambda ARN of the destination's enabled processor, if any."""
    processing = destination.get("ProcessingConfiguration") or {}
    if str(processing.get("Enabled", False)).lower() != "true":
        return None
    for processor in processing.get("Processors", []):
        if processor.get("Type") == "Lambda":
            for parameter in processor.get("Parameters", []):
                if parameter["ParameterName"] == "LambdaArn":
                    return str(parameter["ParameterValue"])
    return None


def _raw(record: dict[str, Any]) -> bytes:
    data = record["Data"]
    return data if isinstance(data, bytes) else base64.b64decode(data)


def _error_document(raw: bytes, code: str, message: str, lambda_arn: str, now: datetime) -> bytes:
    millis = int(now.timestamp() * 1000)
    document = {
        "attemptsMade": 1,
        "arrivalTimestamp": millis,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": millis,
        "rawData": base64.b64encode(raw).decode(),
        "lambdaArn": lambda_arn,
    }
    return json.dumps(document).encode() + b"\n"


@dataclass
class Delivery:
    """One object Firehose writes to S3 under its delivery role."""

    role_arn: str
    bucket: str
    key: str
    body: bytes
    log: dict[str, Any]
    first_attempt: datetime
    attempts: int = 0


@dataclass
class DeliveryQueue:
    """Objects whose delivery failed, retried on every ``advance`` until 24 hours have passed."""

    pending: list[Delivery] = field(default_factory=list)
    expired: list[Delivery] = field(default_factory=list)

    def deliver(self, cloud: Cloud, delivery: Delivery) -> bool:
        """Write ``delivery`` as its role; log and keep it for a retry when that fails."""
        delivery.attempts += 1
        s3 = _as_delivery_role(cloud, "s3", delivery.role_arn)
        try:
            s3.put_object(Bucket=delivery.bucket, Key=delivery.key, Body=delivery.body)
        except ClientError as error:
            _log_delivery_error(cloud, delivery, error)
            return False
        return True

    def write(self, cloud: Cloud, delivery: Delivery) -> None:
        """Deliver, or keep for a retry."""
        if not self.deliver(cloud, delivery):
            self.pending.append(delivery)

    def retry(self, cloud: Cloud) -> None:
        now = cloud.clock.now()
        waiting, self.pending = self.pending, []
        for delivery in waiting:
            if self.deliver(cloud, delivery):
                continue
            if now - delivery.first_attempt >= DELIVERY_RETRY:
                self.expired.append(delivery)
            else:
                self.pending.append(delivery)


def _as_delivery_role(cloud: Cloud, service: str, role_arn: str) -> Any:
    return cloud.client(service, principal=role_arn, assumed_by="firehose.amazonaws.com", external_id=cloud.account_id)


def _log_delivery_error(cloud: Cloud, delivery: Delivery, error: ClientError) -> None:
    """Write the failure to the stream's CloudWatch log stream, as the delivery role, as Firehose does."""
    if str(delivery.log.get("Enabled", "false")).lower() != "true":
        return
    message = {
        "errorCode": f"S3.{error.response['Error']['Code']}",
        "errorMessage": error.response["Error"].get("Message", ""),
        "attempts": delivery.attempts,
        "key": delivery.key,
    }
    logs = _as_delivery_role(cloud, "logs", delivery.role_arn)
    # Firehose drops what it cannot log; the delivery itself is still retried.
    with suppress(ClientError):
        logs.put_log_events(
            logGroupName=delivery.log["LogGroupName"],
            logStreamName=delivery.log["LogStreamName"],
            logEvents=[{"timestamp": int(cloud.clock.now().timestamp() * 1000), "message": json.dumps(message)}],
        )


def transform(
    cloud: Cloud, stream_arn: str, lambda_arn: str, records: list[bytes], now: datetime, *, role_arn: str
) -> tuple[list[bytes], list[bytes]]:
    """Run the processor over ``records``: (delivered data, error documents)."""
    ids = [f"{index:056d}" for index in range(len(records))]
    event = {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": stream_arn,
        "region": cloud.region,
        "records": [
            {
                "recordId": record_id,
                "approximateArrivalTimestamp": int(now.timestamp() * 1000),
                "data": base64.b64encode(raw).decode(),
            }
            for record_id, raw in zip(ids, records, strict=True)
        ],
    }
    try:
        response = _as_delivery_role(cloud, "lambda", role_arn).invoke(
            FunctionName=lambda_arn, Payload=json.dumps(event).encode()
        )
    except ClientError as error:
        # Firehose could not invoke the processor (its role may not): every record is set aside.
        code = error.response["Error"]["Code"]
        code = "InvokeAccessDenied" if code.startswith("AccessDenied") else code
        message = error.response["Error"].get("Message", "")
        return [], [_error_document(raw, f"Lambda.{code}", message, lambda_arn, now) for raw in records]
    answer = json.loads(response["Payload"].read() or b"null")
    if "FunctionError" in response:
        message = f"The Lambda function was invoked and failed: {answer.get('errorMessage', answer)}"
        return [], [_error_document(raw, "Lambda.FunctionError", message, lambda_arn, now) for raw in records]
    results = (answer or {}).get("records", [])
    returned_ids = [result.get("recordId") for result in results]
    if sorted(returned_ids) != sorted(ids):
        code = "Lambda.DuplicatedRecordId" if len(returned_ids) != len(set(returned_ids)) else "Lambda.MissingRecordId"
        message = "The Lambda function's response did not return each input recordId exactly once."
        return [], [_error_document(raw, code, message, lambda_arn, now) for raw in records]
    by_id = dict(zip(ids, records, strict=True))
    delivered, failed = [], []
    for result in results:
        if result["result"] == "Ok":
            delivered.append(base64.b64decode(result["data"]))
        elif result["result"] == "ProcessingFailed":
            message = "The data record was marked ProcessingFailed by the Lambda function."
            failed.append(
                _error_document(by_id[result["recordId"]], "Lambda.ProcessingFailed", message, lambda_arn, now)
            )
        elif result["result"] != "Dropped":
            message = f"The Lambda function returned an invalid result {result['result']!r}."
            failed.append(_error_document(by_id[result["recordId"]], "Lambda.InvalidResult", message, lambda_arn, now))
    return delivered, failed


def _delivering(
    cloud: Cloud, original: Callable[..., list[dict[str, str]]], queue: DeliveryQueue
) -> Callable[..., list[dict[str, str]]]:
    def put_s3_records(
        backend: FirehoseBackend,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[dict[str, Any]],
    ) -> list[dict[str, str]]:
        lambda_arn = processor_arn(s3_destination)
        if lambda_arn is None:
            return original(backend, delivery_stream_name, version_id, s3_destination, records)
        now = cloud.clock.now().astimezone(UTC)
        stream = backend.delivery_streams[delivery_stream_name]
        role = s3_destination["RoleARN"]
        raw = [_raw(r) for r in records]
        delivered, failed = transform(cloud, stream.delivery_stream_arn, lambda_arn, raw, now, role_arn=role)
        bucket = s3_destination["BucketARN"].split(":")[-1]
        name = f"{delivery_stream_name}-{version_id}-{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
        log = s3_destination.get("CloudWatchLoggingOptions") or {}
        objects = []
        if delivered:
            objects.append((expand_prefix(s3_destination.get("Prefix", ""), now), b"".join(delivered)))
        if failed:
            error_prefix = s3_destination.get("ErrorOutputPrefix") or ""
            prefix = expand_prefix(error_prefix, now, "processing-failed")
            objects.append((prefix if error_prefix else "processing-failed/" + prefix, b"".join(failed)))
        stream_channel = channel(cloud.physical_ids, "firehose", delivery_stream_name)
        for prefix, body in objects:
            delivery = Delivery(role, bucket, prefix + name, body, log, first_attempt=now)
            cloud.deliveries.deliver(stream_channel, partial(queue.write, cloud, delivery))
        return [{"RecordId": str(uuid.uuid4())} for _ in records]

    return put_s3_records


@contextmanager
def firehose_processors(cloud: Cloud) -> Iterator[DeliveryQueue]:
    queue = DeliveryQueue()

    def retry() -> None:
        queue.retry(cloud)

    cloud.tickers.append(retry)
    try:
        with mock.patch.object(
            FirehoseBackend, "put_s3_records", _delivering(cloud, FirehoseBackend.put_s3_records, queue)
        ):
            yield queue
    finally:
        cloud.tickers.remove(retry)
