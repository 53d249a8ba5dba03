"""A dataset part is named by its object's key and bytes, however the bytes were read."""

from __future__ import annotations

from ingestion import part_id
from upload_check import fingerprint

GOOD = "0,298.1,308.6,1551,42.8,0,4.2"


def content(*chunks: bytes) -> str:
    found = fingerprint(chunks)
    assert isinstance(found, str)
    return found


def test_the_same_bytes_under_the_same_key_are_the_same_part_whatever_their_version() -> None:
    # A second version with the same bytes is a retried write (a client's, or Firehose's), not new data
    body = f"{GOOD}\n{GOOD}\n".encode()
    assert part_id("incoming/a.csv", content(body)) == part_id("incoming/a.csv", content(bytes(body)))


def test_the_same_bytes_read_in_other_pieces_are_the_same_part() -> None:
    body = f"{GOOD}\n{GOOD}\n".encode()
    assert part_id("incoming/a.csv", content(body)) == part_id("incoming/a.csv", content(body[:5], body[5:], b""))


def test_other_bytes_or_another_key_make_another_part() -> None:
    body = f"{GOOD}\n".encode()
    assert part_id("incoming/a.csv", content(body)) != part_id("incoming/a.csv", content(body + body))
    assert part_id("incoming/a.csv", content(body)) != part_id("incoming/b.csv", content(body))


def test_a_part_keeps_its_id_from_one_release_to_the_next() -> None:
    # The id names the part's objects and its ledger item: another id for the same bytes would add them twice
    assert part_id("incoming/a.csv", content(f"{GOOD}\n".encode())) == "ba6046eb3017c8cd57ba7a3b"
