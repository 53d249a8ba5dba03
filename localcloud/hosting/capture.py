"""Data capture: sampled requests and responses of an endpoint, written to S3 as JSON lines.

As SageMaker writes them: one JSON object per request (``captureData`` with ``endpointInput``
and/or ``endpointOutput`` as the configuration's CaptureOptions ask, ``eventMetadata`` with the
event id, the inference id if the caller gave one, and the inference time), in files under
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, encrypted with the configuration's
KmsKeyId, written as the variant's model's execution role. A body is captured as CSV or JSON
text when its content type is listed in CaptureContentTypeHeader, in base64 otherwise.

SageMaker writes captured data within minutes, not per request; here captured requests are
written on each ``cloud.advance(...)``. A write the role may not make is dropped, as on AWS, and
kept in ``cloud.undelivered``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from conveyor.aws import split_s3_uri
from localcloud.iam import DeniedError

if TYPE_CHECKING:
    from localcloud.hosting.host import Host


@dataclass(frozen=True)
class Captured:
    """One captured request, waiting to be written."""

    endpoint_name: str
    endpoint_arn: str
    variant_name: str
    role_arn: str
    destination: str
    kms_key_id: str | None
    at: datetime
    line: str


def _encoded(body: bytes, content_type: str | None, config: dict[str, Any], mode: str) -> dict[str, Any]:
    message = Message()
    message["content-type"] = content_type or ""
    media_type = message.get_content_type()
    header = config.get("CaptureContentTypeHeader") or {}
    if media_type in header.get("CsvContentTypes", []):
        encoding, data = "CSV", body.decode("utf-8", "replace")
    elif media_type in header.get("JsonContentTypes", []):
        encoding, data = "JSON", body.decode("utf-8", "replace")
    else:
        encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type or "", "mode": mode, "data": data, "encoding": encoding}


def capture_record(
    config: dict[str, Any],
    *,
    request: tuple[bytes, str | None],
    response: tuple[bytes, str],
    at: datetime,
    inference_id: str | None,
) -> str:
    """The JSON line SageMaker writes for one request."""
    modes = {option["CaptureMode"] for option in config.get("CaptureOptions", [])}
    data: dict[str, Any] = {}
    if modes & {"Input", "InputAndOutput"}:
        data["endpointInput"] = _encoded(*request, config, "INPUT")
    if modes & {"Output", "InputAndOutput"}:
        data["endpointOutput"] = _encoded(*response, config, "OUTPUT")
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return json.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"})


class CaptureBuffer:
    """Captured requests not yet written."""

    def __init__(self) -> None:
        self._pending: list[Captured] = []
        self._clients: dict[tuple[str, str], Any] = {}

    def add(
        self,
        config: dict[str, Any],
        *,
        endpoint: tuple[str, str],
        variant_name: str,
        role_arn: str,
        line: str,
        at: datetime,
    ) -> None:
        """Keep one captured request (``line``) of ``endpoint`` (name, ARN) under ``config``."""
        destination, key_id = config["DestinationS3Uri"], config.get("KmsKeyId")
        self._pending.append(Captured(*endpoint, variant_name, role_arn, destination, key_id, at, line))

    def flush(self, cloud: Host) -> list[str]:
        """Write every captured request, one file per endpoint, variant and hour; return the S3 URIs."""
        pending, self._pending = self._pending, []
        files: dict[tuple[Any, ...], list[Captured]] = defaultdict(list)
        for captured in pending:
            hour = captured.at.astimezone(UTC).strftime("%Y/%m/%d/%H")
            group = (captured.role_arn, captured.destination, captured.kms_key_id, captured.endpoint_name)
            files[(*group, captured.endpoint_arn, captured.variant_name, hour)].append(captured)
        written = []
        for (role, destination, key_id, endpoint, endpoint_arn, variant, hour), records in files.items():
            first = records[0].at.astimezone(UTC)
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            bucket, prefix = split_s3_uri(destination.rstrip("/") + f"/{endpoint}/{variant}/{hour}/{name}")
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id} if key_id else {}
            body = "".join(f"{r.line}\n" for r in records).encode()
            try:
                self._client(cloud, role, endpoint_arn).put_object(Bucket=bucket, Key=prefix, Body=body, **encryption)
            except (ClientError, DeniedError) as error:
                cloud.undelivered.append((endpoint_arn, f"s3://{bucket}/{prefix}", str(error)))
                continue
            written.append(f"s3://{bucket}/{prefix}")
        return written

    def _client(self, cloud: Host, role_arn: str, endpoint_arn: str) -> Any:
        """An S3 client acting as ``role_arn``, assumed by SageMaker for the endpoint (one per pair)."""
        key = (role_arn, endpoint_arn)
        if key not in self._clients:
            self._clients[key] = cloud.client(
                "s3", principal=role_arn, assumed_by="sagemaker.amazonaws.com", source_arn=endpoint_arn
            )
        return self._clients[key]
