"""S3 objects read and written a piece at a time, so that a file's size never becomes memory.

An object is read in READ_BYTES chunks from one GetObject stream per pass (one GetObject in all
when it fits in a chunk). An object is written front to back: it is one PutObject while it is
small, and a multipart upload of PART_BYTES parts once it outgrows one part (S3 takes parts of
5 MiB and more, but the last). What was written can be taken back: an upload not finished is
aborted, and an object finished is deleted by the version this writer made, never another
writer's (in a versioned bucket, two deliveries of one event write the same key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

READ_BYTES = 1 << 20
PART_BYTES = 8 << 20


class StoredObject:
    """One version of an object (None: the current one), to read from start to end as many times as needed.

    ``size`` (None if not known) lets a small object be read once and kept.
    """

    def __init__(self, s3: Any, bucket: str, key: str, version: str | None, size: int | None) -> None:
        self.bucket = bucket
        self.key = key
        self.version = version
        self._s3 = s3
        self._whole: bytes | None = self._read_all() if size is not None and size <= READ_BYTES else None

    def chunks(self) -> Iterator[bytes]:
        """The object's bytes, READ_BYTES at a time."""
        if self._whole is not None:
            yield self._whole
            return
        body = self._get()
        try:
            while chunk := body.read(READ_BYTES):
                yield chunk
        finally:
            body.close()

    def _read_all(self) -> bytes:
        body = self._get()
        try:
            whole: bytes = body.read()
        finally:
            body.close()
        return whole

    def _get(self) -> Any:
        version = {} if self.version is None else {"VersionId": self.version}
        return self._s3.get_object(Bucket=self.bucket, Key=self.key, **version)["Body"]


class ObjectUpload:
    """An object written front to back, held no longer than one part; ``bytes`` counts what was written."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.bucket = bucket
        self.key = key
        self.bytes = 0
        self._s3 = s3
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._written: dict[str, str] | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._send_part()

    def close(self) -> None:
        """Finish the object: S3 holds every byte written, under ``key``."""
        if self._upload_id is None:
            response = self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=self._buffer)
        else:
            if self._buffer:
                self._send_part()
            response = self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
            self._upload_id = None
        self._buffer = bytearray()
        version = response.get("VersionId")
        self._written = {"VersionId": version} if version else {}

    def discard(self) -> None:
        """Take back what was written: abort an unfinished upload, delete the version a finished one made."""
        self._buffer = bytearray()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None
        if self._written is not None:
            self._s3.delete_object(Bucket=self.bucket, Key=self.key, **self._written)
            self._written = None

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=self._buffer
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer = bytearray()
