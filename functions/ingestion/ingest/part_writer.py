"""A part's rows written as they are checked, each into its channel object (:mod:`conveyor.dataset`).

Row ``i`` of the part (0-based, in file order) goes to ``Split(part_name(part_id), ...).channel(i)``:
the channel ``channel_of`` gives it in the part's one object of the unsplit layout, so a row lands
where the retraining workflow would have put it. A row's metadata line, when the schema has
metadata, goes to the same channel's sidecar (``metadata_key``), so the two stay line for line.
"""

from __future__ import annotations

from typing import Any

from conveyor.dataset import CHANNELS, Channel, Split, channel_key, metadata_key, part_name
from conveyor.s3_streams import ObjectUpload
from conveyor.state.ledger import ChannelObject


class PartWriter:
    """The channel objects of one part (and their metadata sidecars), written row after row; a channel
    no row went to is not written."""

    def __init__(self, s3: Any, bucket: str, part_id: str, validation_percent: int, test_percent: int) -> None:
        self.part_id = part_id
        self.rows = 0
        self._s3 = s3
        self._bucket = bucket
        self._split = Split(part_name(part_id), validation_percent, test_percent)
        self._channels: dict[Channel, ObjectUpload] = {}
        self._sidecars: dict[Channel, ObjectUpload] = {}
        self._rows: dict[Channel, int] = {}

    def add(self, lines: list[str], metadata: list[str] | None = None) -> None:
        """Append the part's next rows (CSV lines, each ending in a newline), and their metadata lines if any."""
        chosen: dict[Channel, list[int]] = {channel: [] for channel in CHANNELS}
        channel_of_row = self._split.channel
        for index in range(len(lines)):
            chosen[channel_of_row(self.rows + index)].append(index)
        self.rows += len(lines)
        for channel, indexes in chosen.items():
            if indexes:
                self._channel(channel).write("".join(map(lines.__getitem__, indexes)).encode())
                self._rows[channel] = self._rows.get(channel, 0) + len(indexes)
                if metadata is not None:
                    self._sidecar(channel).write("".join(map(metadata.__getitem__, indexes)).encode())

    def close(self) -> dict[Channel, ChannelObject]:
        """Finish every channel object: what the ledger records of each."""
        for upload in [*self._channels.values(), *self._sidecars.values()]:
            upload.close()
        written = [channel for channel in CHANNELS if channel in self._channels]
        return {
            channel: ChannelObject(
                key=self._channels[channel].key,
                rows=self._rows[channel],
                bytes=self._channels[channel].bytes,
                metadata_key=self._sidecars[channel].key if channel in self._sidecars else None,
            )
            for channel in written
        }

    def discard(self) -> None:
        """Take back every channel object and sidecar this writer wrote or began."""
        for upload in [*self._channels.values(), *self._sidecars.values()]:
            upload.discard()

    def _channel(self, channel: Channel) -> ObjectUpload:
        if channel not in self._channels:
            self._channels[channel] = ObjectUpload(self._s3, self._bucket, channel_key(self.part_id, channel))
        return self._channels[channel]

    def _sidecar(self, channel: Channel) -> ObjectUpload:
        if channel not in self._sidecars:
            self._sidecars[channel] = ObjectUpload(self._s3, self._bucket, metadata_key(self.part_id, channel))
        return self._sidecars[channel]
