"""A training job's channels: which S3 objects each holds, and which instance gets which.

``S3DataType``:

- ``S3Prefix``: every object under ``S3Uri``, in key order (folder markers, keys ending in ``/``,
  are not data).
- ``ManifestFile``: ``S3Uri`` names a manifest, a JSON array whose first element is
  ``{"prefix": "s3://bucket/some/prefix/"}`` and whose other elements are keys relative to that
  prefix (the SageMaker API reference, ``S3DataSource.S3Uri``); the channel is those objects, in
  manifest order, and nothing else under the prefix. A manifest that cannot be read, is not JSON
  or has another shape fails the job, and so does a listed object that cannot be read.

An object's file on an instance is ``/opt/ml/input/data/<channel>/<relative key>``, as SageMaker
lays out File mode: the key relative to the manifest's prefix, or to the S3Prefix up to its last
``/``.

``S3DataDistributionType``: with ``FullyReplicated`` (the default) every instance gets every
object. With ``ShardedByS3Key``, SageMaker gives each of n instances about 1/n of the objects,
whole; here the objects, sorted by S3 URI, are dealt round-robin: the i-th (from 0) goes to
``algo-{i mod n + 1}``, which keeps its share in channel order. With fewer objects than instances
the last instances get none.

Everything is read as the job's role, by the client the caller passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from conveyor.aws import split_s3_uri
from localcloud.training.algorithm import TrainingDataError

SHARDED = "ShardedByS3Key"
MANIFEST_SHAPE = 'a JSON array: {"prefix": "s3://bucket/prefix/"}, then keys relative to that prefix'


@dataclass(frozen=True)
class ChannelObject:
    bucket: str
    key: str
    file: str
    """Its path under the channel's folder on an instance."""
    manifest: str | None = None
    """The URI of the manifest that lists it, if a manifest does."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Channel:
    name: str
    objects: list[ChannelObject]
    sharded: bool

    def share(self, instance: int, instance_count: int) -> list[ChannelObject]:
        """The objects instance ``instance`` (from 0, ``algo-{instance + 1}``) gets."""
        if not self.sharded:
            return list(self.objects)
        dealt = {
            obj.uri for i, obj in enumerate(sorted(self.objects, key=lambda o: o.uri)) if i % instance_count == instance
        }
        return [obj for obj in self.objects if obj.uri in dealt]


def channel_of(s3: Any, config: dict[str, Any]) -> Channel:
    """The channel an ``InputDataConfig`` entry describes, its objects listed (or its manifest read)."""
    name = config["ChannelName"]
    source = config["DataSource"]["S3DataSource"]
    uri = source["S3Uri"]
    if source.get("S3DataType", "S3Prefix") == "ManifestFile":
        objects = _manifest_objects(s3, name, uri)
    else:
        objects = _prefix_objects(s3, uri)
    return Channel(name, objects, source.get("S3DataDistributionType") == SHARDED)


def read_object(s3: Any, channel: str, obj: ChannelObject) -> bytes:
    """The object's bytes; a failure names the object, and the manifest that lists it."""
    try:
        return bytes(s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read())
    except ClientError as error:
        listed = f" (listed in the manifest {obj.manifest})" if obj.manifest else ""
        raise TrainingDataError(f"channel {channel}: cannot read {obj.uri}{listed}: {error}") from error


def download(s3: Any, channel: str, objects: list[ChannelObject], folder: Path) -> list[str]:
    """Write ``objects`` into ``folder`` (one instance's ``input/data/<channel>``); the log lines of it."""
    said = []
    for obj in objects:
        path = folder / obj.file
        if not obj.file or not path.resolve().is_relative_to(folder.resolve()):
            raise TrainingDataError(f"channel {channel}: {obj.uri} has no file name under the channel's folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(read_object(s3, channel, obj))
        said.append(f"Downloaded {obj.uri} to /opt/ml/input/data/{channel}/{obj.file}")
    return said


def _prefix_objects(s3: Any, uri: str) -> list[ChannelObject]:
    bucket, prefix = split_s3_uri(uri)
    folder = prefix[: prefix.rfind("/") + 1]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    return [ChannelObject(bucket, key, key[len(folder) :]) for key in keys]


def _manifest_objects(s3: Any, channel: str, uri: str) -> list[ChannelObject]:
    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise TrainingDataError(f"channel {channel}: cannot read the manifest {uri}: {error}") from error
    try:
        manifest = json.loads(body)
    except ValueError as error:
        raise TrainingDataError(f"channel {channel}: the manifest {uri} is not JSON: {error}") from error
    match manifest:
        case [{"prefix": str(prefix)}, *relative] if prefix.startswith("s3://") and all(
            isinstance(r, str) for r in relative
        ):
            pass
        case _:
            raise TrainingDataError(f"channel {channel}: the manifest {uri} is not {MANIFEST_SHAPE}")
    prefix_bucket, prefix_key = split_s3_uri(prefix)
    return [ChannelObject(prefix_bucket, prefix_key + file, file, uri) for file in relative]
