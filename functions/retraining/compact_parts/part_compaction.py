"""Compact one group of parts into one part: an item of the retraining workflow's Distributed Map.

Each channel's objects are streamed, in the group's order, into the new part's channel object, so
memory does not grow with the group. A source in another layout than the item's (the schema
changed since it was written) has each row laid out again on the way: the item's columns in its
order, taken by name, a column the source lacks left empty. Metadata sidecars follow their
channel objects line for line, their columns laid out by name the same way (a source without
them gets empty lines). A part written before the split at ingestion is split here with the same
hash (it is at most the 1 M rows it was ingested under). The ledger then swaps the group for the
new part in one transaction, and the replaced objects are tagged for the data bucket's lifecycle
to delete.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from pydantic import BaseModel

from conveyor import aws
from conveyor.compaction import REPLACED_TAG, CompactionItem, layout_of
from conveyor.dataset import CHANNELS, Channel, channel_key, metadata_key, part_name, split_lines
from conveyor.s3_streams import ObjectUpload, StoredObject
from conveyor.schema import Layout, metadata_row
from conveyor.settings import Settings
from conveyor.state.ledger import ChannelObject, Ledger, Part


class CompactSettings(Settings):
    data_bucket_name: str
    validation_percent: int = 20
    test_percent: int = 10


class Compaction(BaseModel):
    part_id: str
    outcome: Literal["compacted", "already-compacted", "sources-gone"]
    rows: int


Rows = Callable[[Iterable[bytes]], Iterable[bytes]]
"""What becomes of a source's bytes on their way into the compacted part."""


def relayout(source: Layout, target: Layout) -> Rows:
    """Rows in ``source``'s columns laid out in ``target``'s, by name; the bytes as they are if the columns agree."""
    if source.same_columns(target):
        return lambda chunks: chunks
    positions = [source.columns.index(name) if name in source.columns else None for name in target.columns]

    def line(row: bytes) -> bytes:
        cells = row.rstrip(b"\r\n").split(b",")  # numbers only: csv_row wrote them, unquoted
        return b",".join(b"" if position is None else cells[position] for position in positions) + b"\n"

    return lambda chunks: (b"".join(map(line, rows)) for rows in _lines(chunks))


def relayout_metadata(source: Layout, target: Layout) -> Rows:
    """Sidecar lines in ``source``'s metadata columns laid out in ``target``'s, by name (CSV, quoted)."""
    if source.metadata == target.metadata:
        return lambda chunks: chunks
    positions = [source.metadata.index(name) if name in source.metadata else None for name in target.metadata]

    def line(row: list[str]) -> bytes:
        return metadata_row(
            ["" if position is None or position >= len(row) else row[position] for position in positions]
        ).encode()

    def rows(chunks: Iterable[bytes]) -> Iterator[bytes]:
        for lines in _lines(chunks, keep_blank=True):
            yield b"".join(map(line, csv.reader(line.decode() for line in lines)))

    return rows


def _lines(chunks: Iterable[bytes], *, keep_blank: bool = False) -> Iterator[list[bytes]]:
    """The lines of each chunk that end in it (a line cut by a chunk's end goes with the next).

    A blank line is no row, and is left out; a sidecar's (``keep_blank``) is a row's empty metadata.
    """
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines if keep_blank else [line for line in lines if line.strip()]
    if rest.strip():
        yield [rest]


Source = Iterator[tuple[Channel, Iterable[bytes], Iterable[bytes] | None]]
"""A source part's bytes by channel, each with its metadata sidecar's bytes (None if it has none)."""


def _channel_chunks(settings: CompactSettings, part: Part) -> Source:
    """A source part's bytes by channel, streamed from its channel objects or split from its one object."""
    s3 = aws.client("s3")
    bucket = settings.data_bucket_name
    if part.channels:
        for channel, stored in part.channels.items():
            sidecar = None if stored.metadata_key is None else StoredObject(s3, bucket, stored.metadata_key, None, None)
            rows = StoredObject(s3, bucket, stored.key, None, stored.bytes).chunks()
            yield channel, rows, None if sidecar is None else sidecar.chunks()
        return
    lines = s3.get_object(Bucket=bucket, Key=part.key)["Body"].read().decode("utf-8").splitlines(keepends=True)
    split = split_lines(
        part.key, [line for line in lines if line.strip()], settings.validation_percent, settings.test_percent
    )
    for channel, channel_rows in split.items():
        yield channel, ["".join(channel_rows).encode()], None


class _Channels:
    """The compacted part's channel objects, written front to back; each source's rows end in a newline.

    With metadata columns in the layout, each channel also gets its sidecar, line for line.
    """

    def __init__(self, bucket: str, part_id: str, layout: Layout) -> None:
        s3 = aws.client("s3")
        self._uploads = {channel: ObjectUpload(s3, bucket, channel_key(part_id, channel)) for channel in CHANNELS}
        self._sidecars = (
            {channel: ObjectUpload(s3, bucket, metadata_key(part_id, channel)) for channel in CHANNELS}
            if layout.metadata
            else {}
        )
        self._empty_metadata = metadata_row([""] * len(layout.metadata)).encode()
        self._rows = dict.fromkeys(CHANNELS, 0)

    def append(self, channel: Channel, chunks: Iterable[bytes], sidecar: Iterable[bytes] | None) -> None:
        """Append a source's rows to ``channel``, and its sidecar's lines (empty ones if it has none)."""
        before = self._rows[channel]
        self._rows[channel] += _write(self._uploads[channel], chunks)
        if not self._sidecars:
            return
        added = self._rows[channel] - before
        lines = _write(self._sidecars[channel], _repeated(self._empty_metadata, added) if sidecar is None else sidecar)
        if lines != added:
            raise ValueError(f"a metadata sidecar has {lines} lines for {added} rows in the {channel} channel")

    def close(self) -> dict[Channel, ChannelObject]:
        written = {channel: upload for channel, upload in self._uploads.items() if upload.bytes}
        for channel, upload in written.items():
            upload.close()
            if self._sidecars:
                self._sidecars[channel].close()
        return {
            channel: ChannelObject(
                key=upload.key,
                rows=self._rows[channel],
                bytes=upload.bytes,
                metadata_key=self._sidecars[channel].key if self._sidecars else None,
            )
            for channel, upload in written.items()
        }

    def discard(self) -> None:
        for upload in [*self._uploads.values(), *self._sidecars.values()]:
            upload.discard()


def _repeated(line: bytes, count: int, per_chunk: int = 65_536) -> Iterator[bytes]:
    """``count`` copies of ``line``, a bounded chunk at a time."""
    for start in range(0, count, per_chunk):
        yield line * min(per_chunk, count - start)


def _write(upload: ObjectUpload, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to ``upload``, ending in a newline: the lines written."""
    lines = 0
    last = b"\n"
    for chunk in chunks:
        if chunk:
            upload.write(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        upload.write(b"\n")
        lines += 1
    return lines


def compact(settings: CompactSettings, ledger: Ledger, item: CompactionItem) -> Compaction:
    """Write the group's compacted part, in the item's layout, and swap it in for the group, once."""
    bucket = settings.data_bucket_name
    written = _Channels(bucket, item.part_id, item.layout)
    try:
        for source in item.sources:
            layout = layout_of(source, item.layout)
            rows, metadata = relayout(layout, item.layout), relayout_metadata(layout, item.layout)
            for channel, chunks, sidecar in _channel_chunks(settings, source):
                written.append(channel, rows(chunks), None if sidecar is None else metadata(sidecar))
        channels = written.close()
    except BaseException:
        written.discard()
        raise
    compacted = Part(
        part_id=item.part_id,
        key=part_name(item.part_id),
        rows=sum(source.rows for source in item.sources),
        source_key="",
        source_version="",
        created_at=max(source.created_at for source in item.sources),
        channels=channels,
        sources=[source.part_id for source in item.sources],
        layout=item.layout,
        newest_event_at=max(
            (source.newest_event_at for source in item.sources if source.newest_event_at), default=None
        ),
    )
    if ledger.compact(compacted, item.sources):
        _tag_replaced(bucket, item.sources)
        return Compaction(part_id=item.part_id, outcome="compacted", rows=compacted.rows)
    found = ledger.find_parts([item.part_id])
    outcome: Literal["already-compacted", "sources-gone"] = "already-compacted" if found else "sources-gone"
    return Compaction(part_id=item.part_id, outcome=outcome, rows=compacted.rows)


def _tag_replaced(bucket: str, sources: list[Part]) -> None:
    s3 = aws.client("s3")
    name, value = REPLACED_TAG
    for source in sources:
        keys = [key for stored in source.channels.values() for key in (stored.key, stored.metadata_key) if key]
        keys = keys or [source.key]
        for key in keys:
            s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": name, "Value": value}]})
