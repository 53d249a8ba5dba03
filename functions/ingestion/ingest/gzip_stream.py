"""Gzip uploads read as the bytes they hold, decompressed as they stream past.

A file is gzip when it starts with gzip's magic bytes (1f 8b), whatever its name. Its bytes are
decompressed a chunk at a time, and each call to the decompressor gives at most PIECE_BYTES: a
small file that decompresses to gigabytes (a gzip bomb) is never more than a piece in memory,
and the reader can stop at any piece. A file of several members (gzip files concatenated, as
``cat a.gz b.gz`` makes) holds their contents one after the other, as ``gzip -d`` reads it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import chain

MAGIC = b"\x1f\x8b"
# Decompressed bytes one call to the decompressor gives at most: as much as one read of the upload
PIECE_BYTES = 1 << 20
# zlib's window bits for a gzip header and trailer (not zlib's, nor raw deflate)
GZIP_WBITS = 31


class GzipError(Exception):
    """Bytes that start as gzip but are not valid gzip; the message names the problem."""


def opened(chunks: Iterable[bytes]) -> tuple[bool, Iterator[bytes]]:
    """Whether the bytes of ``chunks`` are gzip, and what they hold: decompressed if gzip, else as they are.

    Reading what gzip holds raises GzipError where it turns out not to be valid.
    """
    pending = iter(chunks)
    start = b""
    for chunk in pending:
        start += chunk
        if len(start) >= len(MAGIC):
            break
    # chain keeps its arguments to the end: an iterator over the first piece lets the piece go once read
    every = chain(iter([start]), pending)
    if start.startswith(MAGIC):
        return True, gunzip(every)
    return False, every


def gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The decompressed bytes of gzip, member after member, at most PIECE_BYTES at a time.

    Raises GzipError at corrupt data (zlib's error), at the end of bytes that end inside a member,
    and at bytes after a member that do not start another.
    """
    member = _Member(first=True)
    for chunk in chunks:
        data = chunk
        while data:
            if member.ended:
                member = _Member(first=False)
            yield from member.inflate(data)
            # What follows a member's end in the data given is the next member's start
            data = member.after_end
    if not member.ended:
        raise GzipError("compressed data ends before the end of the stream")


class _Member:
    """One gzip member, decompressed as its bytes come."""

    def __init__(self, *, first: bool) -> None:
        self._first = first
        self._start = b""  # the member's first bytes, up to the magic's length
        self._zlib = zlib.decompressobj(wbits=GZIP_WBITS)

    @property
    def ended(self) -> bool:
        return self._zlib.eof

    @property
    def after_end(self) -> bytes:
        """The bytes given after the member's end (none before it ends)."""
        return self._zlib.unused_data

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """Decompress ``data``, a piece at a time, until the member ends or gives no more."""
        if len(self._start) < len(MAGIC):
            self._start = (self._start + data)[: len(MAGIC)]
            if not MAGIC.startswith(self._start):
                raise GzipError(
                    "it does not start with gzip's magic bytes 1f 8b"
                    if self._first
                    else "the bytes after the end of the gzip stream do not start another member (1f 8b)"
                )
        try:
            piece = self._zlib.decompress(data, PIECE_BYTES)
            while piece:
                yield piece
                # A full piece may leave input unread (unconsumed_tail), or output zlib still holds
                if len(piece) < PIECE_BYTES or self._zlib.eof:
                    return
                piece = self._zlib.decompress(self._zlib.unconsumed_tail, PIECE_BYTES)
        except zlib.error as error:
            raise GzipError(str(error)) from None
