"""The dataset's layout in the data bucket: parts, their channel objects, and the split.

A part holds the accepted rows of one input object (or of several parts compacted together). Its
rows are split once, when the part is written, into up to three channel objects (headerless CSV,
label first, the built-in XGBoost contract)::

    datasets/parts/<part id>/train.csv
    datasets/parts/<part id>/validation.csv
    datasets/parts/<part id>/test.csv

When the schema names metadata fields, each channel object has a sidecar beside it,
``datasets/parts/<part id>/<channel>.metadata.csv``: headerless CSV of the rows' metadata values
(in ``Layout.metadata`` order), line ``i`` describing line ``i`` of the channel object. A schema
without metadata writes none.

A row's channel depends only on where it lives: a hash of its part's name
(``datasets/parts/<part id>.csv``) and its position among the part's rows (:func:`channel_of`).
So a row keeps its channel in every run, and compaction, which only concatenates channel
objects, never moves one.

Parts written before this layout are one object under their name, unsplit (``Part.channels``
empty). The retraining workflow splits them, with the same hash, the first time a run includes
them, so their rows land in the channels they always had.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Channel = Literal["train", "validation", "test"]
CHANNELS: tuple[Channel, ...] = ("train", "validation", "test")
PARTS_PREFIX = "datasets/parts/"


def part_name(part_id: str) -> str:
    """The name a part's rows are split by; in the unsplit layout, also its one object's key."""
    return f"{PARTS_PREFIX}{part_id}.csv"


def channel_key(part_id: str, channel: Channel) -> str:
    """The key of one of a part's channel objects."""
    return f"{PARTS_PREFIX}{part_id}/{channel}.csv"


def metadata_key(part_id: str, channel: Channel) -> str:
    """The key of the metadata sidecar of one of a part's channel objects."""
    return f"{PARTS_PREFIX}{part_id}/{channel}.metadata.csv"


def channel_of(part_key: str, line: int, validation_percent: int, test_percent: int) -> Channel:
    """Which channel a row belongs to, decided by its location alone (``line`` counts from 0)."""
    bucket = int.from_bytes(hashlib.sha256(f"{part_key}:{line}".encode()).digest()[:8], "big") % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + validation_percent:
        return "validation"
    return "train"


class Split:
    """:func:`channel_of` for the rows of one part, one after another, without re-hashing its name."""

    def __init__(self, part_key: str, validation_percent: int, test_percent: int) -> None:
        self._prefix = hashlib.sha256(f"{part_key}:".encode())
        self._test = test_percent
        self._held_out = test_percent + validation_percent

    def channel(self, line: int) -> Channel:
        digest = self._prefix.copy()
        digest.update(str(line).encode())
        bucket = int.from_bytes(digest.digest()[:8], "big") % 100
        if bucket < self._test:
            return "test"
        if bucket < self._held_out:
            return "validation"
        return "train"


def split_lines(
    part_key: str, lines: list[str], validation_percent: int, test_percent: int
) -> dict[Channel, list[str]]:
    """A part's rows (CSV lines, in order) by channel; a channel with no rows is left out."""
    split = Split(part_key, validation_percent, test_percent)
    channels: dict[Channel, list[str]] = {}
    for line, row in enumerate(lines):
        channels.setdefault(split.channel(line), []).append(row)
    return channels
