"""An upload read in pieces reads as the whole file would: the same lines, the same encoding error."""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Iterator
from itertools import pairwise

import pytest
import upload_check
from hypothesis import given, settings
from hypothesis import strategies as st
from upload_check import Discard, check_rows, fingerprint, text_lines

from conveyor.s3_streams import READ_BYTES
from conveyor.schema import Rejection, load_schema

SCHEMA = load_schema("predictive_maintenance")
GOOD = "0,298.1,308.6,1551,42.8,0,4.2"


def pieces(body: bytes, cuts: list[int]) -> list[bytes]:
    """``body`` cut at ``cuts`` (positions, any order)."""
    edges = sorted({0, len(body), *(cut % (len(body) + 1) for cut in cuts)})
    return [body[start:end] for start, end in pairwise(edges)]


def whole_file_encoding_error(body: bytes) -> Rejection | None:
    """The encoding error of ``body`` decoded whole: the line of the bad bytes, and them with the 8 after."""
    start = len(codecs.BOM_UTF8) if body.startswith(codecs.BOM_UTF8) else 0
    try:
        body[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        bad = start + error.start
        line = body[:bad].count(b"\n") + 1
        return Rejection(
            rule="encoding", message="file is not UTF-8", line=line, value=repr(body[bad : start + error.end + 8])
        )
    return None


CHARACTERS = ["0", "1", ",", ".", "\n", "\r", "\r\n", '"', " ", "\u00e9", "\u20ac", "\u2028", "\x0c"]
texts = st.lists(st.sampled_from(CHARACTERS)).map("".join).map(str.encode)
# Bytes UTF-8 never has, a character cut short, a surrogate
BAD_BYTES = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]
bodies = st.tuples(
    st.sampled_from([b"", codecs.BOM_UTF8]),
    st.one_of(texts, st.tuples(texts, st.sampled_from(BAD_BYTES), texts).map(b"".join)),
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(bodies, st.lists(st.integers(0, 200), max_size=6))
def test_lines_read_in_pieces_are_the_lines_of_the_whole_file(body: bytes, cuts: list[int]) -> None:
    # Given a UTF-8 file, cut anywhere (inside a character, between "\r" and "\n")
    text = body.decode("utf-8-sig", errors="replace")
    body = text.encode()
    # When its lines are read piece by piece
    lines = list(text_lines(pieces(body, cuts)))
    # Then they are the lines csv.reader reads from the whole file
    assert lines == io.StringIO(body.decode("utf-8-sig"), newline="").readlines()


@settings(max_examples=300, deadline=None)
@given(bodies, st.lists(st.integers(0, 200), max_size=6))
def test_an_encoding_error_read_in_pieces_is_the_one_of_the_whole_file(body: bytes, cuts: list[int]) -> None:
    # Given any file, cut anywhere
    # When it is read piece by piece
    found = fingerprint(pieces(body, cuts))
    # Then it is refused as when decoded whole (not UTF-8, or empty), or hashed as a whole
    expected = whole_file_encoding_error(body)
    if expected is None and not body.decode("utf-8-sig").strip():
        expected = Rejection(rule="empty-file", message="file is empty")
    assert found == (expected or hashlib.sha256(body).hexdigest())


def test_a_bad_byte_far_into_a_file_is_reported_at_its_line() -> None:
    # Given a 3 MB file with one bad byte on line 70001, well past the first chunk read
    lines = [GOOD.encode()] * 90_000
    lines[70_000] = b"0,298.1,308.6,1551,42.8,0,\xff4.2"
    body = b"\n".join(lines) + b"\n"
    # When it is read chunk by chunk, as from S3
    found = fingerprint(pieces(body, list(range(0, len(body), READ_BYTES))))
    # Then the error names that line, and the bad byte with the 8 after it
    assert found == Rejection(rule="encoding", message="file is not UTF-8", line=70_001, value=repr(b"\xff4.2\n0,29"))


def test_a_line_too_long_to_hold_is_a_csv_error_at_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file whose third line never ends within the longest line read
    monkeypatch.setattr(upload_check, "MAX_LINE_CHARS", 100)
    body = f"{GOOD}\n{GOOD}\n{'9' * 500}\n{GOOD}\n".encode()
    # When it is checked, read in pieces smaller than that line
    lines = text_lines(pieces(body, list(range(0, len(body), 64))))
    check = check_rows(SCHEMA, lines, has_header=False, max_rows=10, rows=Discard())
    # Then it is not valid CSV, at that line
    assert check.fatal is not None
    assert (check.fatal.rule, check.fatal.line) == ("csv", 3)


MEBIBYTE = ("9," * 2**19)[: 2**20 - 1]
# Lines of 2**20 characters (short cells, as csv.reader limits a cell) with their newline, or of one more; and the
# last line of as many without one, or one more, cut from the rest of the file where a piece ends
LONG_LINES = {
    "a mebibyte": (f"{GOOD}\n{MEBIBYTE}\n{GOOD}\n", None),
    "the last line, a mebibyte": (f"{GOOD}\n{MEBIBYTE}9", None),
    "one character more": (f"{GOOD}\n{MEBIBYTE}9\n{GOOD}\n", 2),
    "a mebibyte, then one character more": (f"{GOOD}\n{MEBIBYTE}\n{MEBIBYTE}9\n", 3),
    "the last line, one character more": (f"{GOOD}\n{MEBIBYTE}99", 2),
}


@pytest.mark.parametrize("case", LONG_LINES)
def test_a_line_is_read_up_to_a_mebibyte_of_characters(case: str) -> None:
    text, fatal_line = LONG_LINES[case]
    body = text.encode()
    # Given such a file, read in pieces: its first line, then the rest
    # When it is checked
    lines = text_lines(pieces(body, [len(GOOD) + 1]))
    check = check_rows(SCHEMA, lines, has_header=False, max_rows=10, rows=Discard())
    # Then a line of a mebibyte is a row (a bad one); a longer one is not valid CSV, at its line
    if fatal_line is None:
        assert (check.fatal, check.rows_bad) == (None, 1)
    else:
        assert check.fatal == Rejection(
            rule="csv",
            message=f"file is not valid CSV: line {fatal_line} is longer than 1048576 characters",
            line=fatal_line,
        )


def test_an_encoding_error_is_reported_without_reading_the_rest_of_the_file() -> None:
    # Given a file of 1000 pieces, with a bad byte at the end of its first
    read = []

    def file() -> Iterator[bytes]:
        yield f"{GOOD}\n\xff".encode("latin-1")
        for n in range(999):
            read.append(n)
            yield b"12345678"

    # When it is read
    found = fingerprint(file())
    # Then the error shows the bad byte and the 8 bytes after it, from the next piece, and no more is read than that
    assert found == Rejection(rule="encoding", message="file is not UTF-8", line=2, value=repr(b"\xff12345678"))
    assert len(read) <= 2
