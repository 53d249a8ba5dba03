"""The split is deterministic: a row's channel depends only on where it lives."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import channels
from channels import channel_of

from tests.conftest import ROOT


def test_a_row_keeps_its_channel_across_processes() -> None:
    # Python's hash() changes with every process; the split must not, or rows would move
    # between training and validation from one run to the next.
    script = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "from channels import channel_of\n"
        "print([channel_of('datasets/parts/a.csv', line, 20, 10) for line in range(200)])"
    )
    folder = Path(channels.__file__).parent
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(folder), str(ROOT / "layers" / "shared")],
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
