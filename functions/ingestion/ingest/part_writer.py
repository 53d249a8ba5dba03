"""A part's rows written as they are checked, each into its channel object (:mod:`conveyor.dataset`).

Row ``i`` of the part (0-based, in file order) goes to ``Split(part_name(part_id), ...).channel(i)``:
the channel ``channel_of`` gives it in the part's one object of the unsplit layout, so a row lands
where the retraining workflow would have put it.
"""

from __future__ import annotations

from typing import Any

from conveyor.dataset import CHANNELS, Channel, Split, channel_key, part_name
from conveyor.s3_streams import ObjectUpload
from conveyor.state.ledger import ChannelObject


class PartWriter:
    """The channel objects of one part, written row after row; a channel no row went to is not written."""

    def __init__(self, s3: Any, bucket: str, part_id: str, validation_percent: int, test_percent: int) -> None:
        self.part_id = part_id
        self.rows = 0
        self._s3 = s3
        self._bucket = bucket
        self._split = Split(part_name(part_id), validation_percent, test_percent)
        self._channels: dict[Channel, ObjectUpload] = {}
        self._rows: dict[Channel, int] = {}

    def add(self, lines: list[str]) -> None:
        """Append the part's next rows (CSV lines, each ending in a newline)."""
        chosen: dict[Channel, list[str]] = {channel: [] for channel in CHANNELS}
        channel_of_row = self._split.channel
        for index, line in enumerate(lines, self.rows):
            chosen[channel_of_row(index)].append(line)
        self.rows += len(lines)
        for channel, rows in chosen.items():
            if rows:
                self._channel(channel).write("".join(rows).encode())
                self._rows[channel] = self._rows.get(channel, 0) + len(rows)

    def close(self) -> dict[Channel, ChannelObject]:
        """Finish every channel object: what the ledger records of each."""
        for upload in self._channels.values():
            upload.close()
        written = [channel for channel in CHANNELS if channel in self._channels]
        return {
            channel: ChannelObject(
                key=self._channels[channel].key, rows=self._rows[channel], bytes=self._channels[channel].bytes
            )
            for channel in written
        }

    def discard(self) -> None:
        """Take back every channel object this writer wrote or began."""
        for upload in self._channels.values():
            upload.discard()

    def _channel(self, channel: Channel) -> ObjectUpload:
        if channel not in self._channels:
            self._channels[channel] = ObjectUpload(self._s3, self._bucket, channel_key(self.part_id, channel))
        return self._channels[channel]
