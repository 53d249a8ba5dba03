"""The split is deterministic: a row's channel depends only on where it lives."""

from __future__ import annotations

from collections import Counter

from channels import channel_of


def test_the_same_row_always_lands_in_the_same_channel() -> None:
    assert {channel_of("datasets/parts/a.csv", 7, 20, 10) for _ in range(5)} == {
        channel_of("datasets/parts/a.csv", 7, 20, 10)
    }


def test_the_split_follows_the_percentages() -> None:
    counts = Counter(channel_of("datasets/parts/a.csv", line, 20, 10) for line in range(20_000))
    assert abs(counts["validation"] / 20_000 - 0.20) < 0.02
    assert abs(counts["test"] / 20_000 - 0.10) < 0.02
    assert abs(counts["train"] / 20_000 - 0.70) < 0.02


def test_no_test_split_when_its_share_is_zero() -> None:
    assert "test" not in {channel_of("p", line, 20, 0) for line in range(2_000)}
