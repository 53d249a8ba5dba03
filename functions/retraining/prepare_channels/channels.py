"""Training channels from a dataset snapshot: a deterministic train / validation / test split.

Each row goes to a channel by a hash of where it lives (part key and line), so the same snapshot
always gives the same channels, and a row keeps its channel across runs. Channels are headerless
CSV with the label first (the built-in XGBoost contract). The test split is kept aside.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from conveyor import aws
from conveyor.errors import ConveyorError
from conveyor.retraining import RetrainingInput
from conveyor.settings import Settings

CHANNELS_PREFIX = "datasets/channels/"


class NotEnoughDataError(ConveyorError):
    """The snapshot leaves a training or validation channel empty."""


class PrepareSettings(Settings):
    data_bucket_name: str
    validation_percent: int = 20
    test_percent: int = 10


class Channels(BaseModel):
    train: str
    validation: str
    test: str
    rows: dict[str, int]


def channel_of(part_key: str, line: int, validation_percent: int, test_percent: int) -> str:
    """Which channel a row belongs to, decided by its location alone."""
    bucket = int.from_bytes(hashlib.sha256(f"{part_key}:{line}".encode()).digest()[:8], "big") % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + validation_percent:
        return "validation"
    return "train"


def prepare_channels(settings: PrepareSettings, run: RetrainingInput) -> Channels:
    """Split the run's snapshot into channels under ``datasets/channels/<run_id>/``."""
    s3 = aws.client("s3")
    bucket = run.dataset.bucket
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=run.dataset.manifest_key)["Body"].read())
    rows: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for part in manifest["parts"]:
        body = s3.get_object(Bucket=bucket, Key=part["key"])["Body"].read().decode("utf-8")
        for line, row in enumerate(body.splitlines()):
            channel = channel_of(part["key"], line, settings.validation_percent, settings.test_percent)
            rows[channel].append(row)
    empty = [name for name in ("train", "validation") if not rows[name]]
    if empty:
        raise NotEnoughDataError(
            f"run {run.run_id}: the {' and '.join(empty)} channel would be empty "
            f"({run.dataset.rows} rows in the snapshot); upload more data"
        )
    prefix = f"{CHANNELS_PREFIX}{run.run_id}/"
    for name, lines in rows.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}{name}/data.csv", Body=("\n".join(lines) + "\n").encode())
    uri = f"s3://{bucket}/{prefix}"
    return Channels(
        train=f"{uri}train/",
        validation=f"{uri}validation/",
        test=f"{uri}test/",
        rows={name: len(lines) for name, lines in rows.items()},
    )
