"""The split is deterministic: a row's channel depends only on where it lives, decided once at ingestion."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

from conveyor.dataset import Split, channel_of, split_lines
from tests.conftest import ROOT


def test_a_row_keeps_its_channel_across_processes() -> None:
    # Python's hash() changes with every process; the split must not, or rows would move
    # between training and validation from one run to the next.
    script = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "from conveyor.dataset import channel_of\n"
        "print([channel_of('datasets/parts/a.csv', line, 20, 10) for line in range(200)])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(ROOT / "layers" / "shared")],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert outputs.pop().strip() == str([channel_of("datasets/parts/a.csv", line, 20, 10) for line in range(200)])


def test_the_split_follows_the_percentages() -> None:
    counts = Counter(channel_of("datasets/parts/a.csv", line, 20, 10) for line in range(20_000))
    assert abs(counts["validation"] / 20_000 - 0.20) < 0.02
    assert abs(counts["test"] / 20_000 - 0.10) < 0.02
    assert abs(counts["train"] / 20_000 - 0.70) < 0.02


def test_no_test_split_when_its_share_is_zero() -> None:
    assert "test" not in {channel_of("p", line, 20, 0) for line in range(2_000)}


def test_a_part_split_row_by_row_gives_each_row_the_channel_of_its_location() -> None:
    split = Split("datasets/parts/b.csv", 20, 10)
    assert [split.channel(line) for line in range(500)] == [
        channel_of("datasets/parts/b.csv", line, 20, 10) for line in range(500)
    ]


def test_split_lines_keeps_each_channels_rows_in_order_and_leaves_empty_channels_out() -> None:
    lines = [f"{line % 2},{line}\n" for line in range(300)]
    split = split_lines("datasets/parts/c.csv", lines, 20, 0)
    assert set(split) == {"train", "validation"}
    assert sorted(split["train"] + split["validation"], key=lambda row: int(row.split(",")[1])) == lines
    assert split["validation"] == [
        row for line, row in enumerate(lines) if channel_of("datasets/parts/c.csv", line, 20, 0) == "validation"
    ]
