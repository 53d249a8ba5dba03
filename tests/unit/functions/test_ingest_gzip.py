"""A gzip upload reads as the CSV it holds, a bounded piece at a time, and bad gzip is refused with its reason."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from collections.abc import Iterator

import gzip_stream
import pytest
from gzip_stream import PIECE_BYTES, gunzip
from upload_check import check_file, fingerprint, text_lines

from conveyor.schema import Rejection, load_schema

SCHEMA = load_schema("predictive_maintenance")
HEADER = ",".join(SCHEMA.columns)
GOOD = "0,298.1,308.6,1551,42.8,0,4.2"
BAD = "1,298.1,308.6,1551,-3,0,4.2"
BODY = f"{HEADER}\n{GOOD}\n{GOOD}\n".encode()
MB = 1 << 20


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[start : start + size] for start in range(0, len(body), size)]


def gzip_error(message: str) -> Rejection:
    return Rejection(rule="gzip", message=f"file is not valid gzip: {message}")


@pytest.mark.parametrize("size", [1, 2, 3, 64, 1 << 30])
def test_gzip_read_in_pieces_holds_the_bytes_it_was_made_of(size: int) -> None:
    body = BODY * 50
    # When gzip of the file is read in pieces of any size (the magic bytes cut in two, too)
    gzipped = pieces(gzip.compress(body), size)
    # Then its content is the file's: the same hash and the same lines
    assert fingerprint(gzipped) == fingerprint([body]) == hashlib.sha256(body).hexdigest()
    assert list(text_lines(gzipped)) == list(text_lines([body]))


def test_a_file_of_several_members_holds_their_contents_one_after_the_other() -> None:
    # Given gzip files concatenated (`cat a.gz b.gz`), one of them empty
    first, second = f"{HEADER}\n{GOOD}\n".encode(), f"{GOOD}\n{GOOD}\n".encode()
    body = gzip.compress(first) + gzip.compress(b"") + gzip.compress(second)
    # Then the file holds them in turn, as gzip -d reads it, however it is cut
    for size in (1, 7, len(body)):
        assert fingerprint(pieces(body, size)) == hashlib.sha256(first + second).hexdigest()
    check = check_file(SCHEMA, body, has_header=True, max_rows=10)
    assert (check.fatal, check.rows_good) == (None, 3)


def test_gzip_under_any_name_is_read_as_gzip() -> None:
    assert fingerprint([gzip.compress(BODY)], name="incoming/uploads/x.csv") == hashlib.sha256(BODY).hexdigest()


@pytest.mark.parametrize("body", [BODY, b"", b"\x1f", gzip.compress(BODY)[1:]], ids=["csv", "empty", "1 byte", "cut"])
def test_a_file_named_gz_that_is_not_gzip_is_refused(body: bytes) -> None:
    found = fingerprint([body], name="incoming/uploads/x.csv.gz")
    assert found == Rejection(
        rule="gzip", message="file is named .gz but is not gzip (it does not start with bytes 1f 8b)"
    )


@pytest.mark.parametrize("kept", [2, 10, -8, -1])
def test_gzip_cut_short_is_refused_as_truncated(kept: int) -> None:
    # Given gzip cut after its magic bytes, in its header, in its trailer, one byte short
    truncated = gzip.compress(BODY * 50)[:kept]
    assert fingerprint([truncated]) == gzip_error("compressed data ends before the end of the stream")


def test_corrupt_gzip_is_refused_with_zlib_s_error() -> None:
    body = bytearray(gzip.compress(BODY * 50))
    # Given one bit of the CRC-32 in the trailer wrong, then the data fails its check
    body[-8] ^= 1
    assert fingerprint([bytes(body)]) == gzip_error("Error -3 while decompressing data: incorrect data check")
    # Given the compressed data itself wrong, then zlib says how
    body[-8] ^= 1
    body[12] ^= 0xFF
    found = fingerprint([bytes(body)])
    assert isinstance(found, Rejection)
    assert found.rule == "gzip"
    assert found.message.startswith("file is not valid gzip: Error -3 while decompressing data: ")


@pytest.mark.parametrize("after", [b"not gzip", b"\x00\x00", b"x"])
def test_bytes_after_the_gzip_stream_that_start_no_member_are_refused(after: bytes) -> None:
    found = fingerprint([gzip.compress(BODY) + after])
    assert found == gzip_error("the bytes after the end of the gzip stream do not start another member (1f 8b)")


def test_a_gzip_bomb_is_refused_once_it_passes_the_limit_decompressed_without_reading_further() -> None:
    # Given 1 GiB of zeros gzipped into under 5 MB, read 64 KiB at a time
    bomb = gzip.compress(bytes(64 * MB), compresslevel=1) * 16
    read = 0

    def counted() -> Iterator[bytes]:
        nonlocal read
        for start in range(0, len(bomb), 64 << 10):
            read += 64 << 10
            yield bomb[start : start + (64 << 10)]

    # When its content is fingerprinted with a limit of 32 MiB
    tracemalloc.start()
    try:
        found = fingerprint(counted(), max_bytes=32 * MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Then it is too large, found in its first 32 MiB, and a few pieces at most were held at once
    assert found == Rejection(rule="too-large", message=f"file exceeds {32 * MB} bytes once decompressed")
    assert read < len(bomb) / 16
    assert peak < 6 * PIECE_BYTES < 32 * MB / 5


def test_a_gzip_file_within_the_limit_decompressed_is_read_whole() -> None:
    body = gzip.compress(BODY)
    assert fingerprint([body], max_bytes=len(BODY)) == hashlib.sha256(BODY).hexdigest()
    assert fingerprint([body], max_bytes=len(BODY) - 1) == Rejection(
        rule="too-large", message=f"file exceeds {len(BODY) - 1} bytes once decompressed"
    )


def test_decompressed_pieces_are_never_larger_than_a_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gzip_stream, "PIECE_BYTES", 1000)
    body = bytes(100_000) + BODY * 100
    read = list(gunzip(pieces(gzip.compress(body), 50_000)))
    assert b"".join(read) == body
    assert max(map(len, read)) == 1000


def test_a_bad_row_of_a_gzip_file_is_reported_at_its_line_in_the_decompressed_file() -> None:
    # Given gzip of a file whose bad rows are on lines 4 and 1003
    lines = [HEADER, GOOD, GOOD, BAD, *[GOOD] * 998, BAD]
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    # When it is checked, then each bad row is reported at its line in the CSV
    check = check_file(SCHEMA, body, has_header=True, max_rows=10_000)
    assert [r.line for r in check.rejections] == [4, 1003]
    assert (check.rows_good, check.rows_bad) == (1000, 2)
