"""A compiled model run by a command: the runner named by ``CONVEYOR_NATIVE_RUNNER``.

The variable holds a shell-quoted command prefix (``qemu-aarch64 -L /usr/aarch64-linux-gnu
/opt/predict_csv-aarch64``, say) to which the library's path is appended: the runner reads rows
of CSV on standard input (an empty cell for a missing value) and writes one line of predictions
per row (the local Neo stand-in's ``predict_csv``). Conveyor's local cloud sets it for simulated
devices of another architecture, as binfmt_misc would run a foreign binary; a real device leaves
it unset and loads the library in process.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .native import METADATA_FILE, CompiledModelError, flatten

RUNNER_VARIABLE = "CONVEYOR_NATIVE_RUNNER"
RUN_TIMEOUT_SECONDS = 300


class RunnerModel:
    """A compiled model whose predictions come from ``command`` + the library's path."""

    def __init__(self, command: Sequence[str], library: Path) -> None:
        self._command = [*command, str(library)]
        self.path = library
        self.num_feature = _num_feature(library.parent / METADATA_FILE)
        self._run("")  # the runner loads the library now, so a model that cannot load fails here

    def predict(self, rows: Sequence[Sequence[float]], *, margin: bool = False) -> list[list[float]]:
        """One list of predictions per row; NaN marks a missing feature value."""
        if not rows:
            return []
        flatten(rows, self.num_feature)
        lines = "".join(",".join("" if math.isnan(v) else repr(float(v)) for v in row) + "\n" for row in rows)
        output = self._run(lines, margin=margin).splitlines()
        if len(output) != len(rows):
            raise CompiledModelError(f"{self._command[0]} answered {len(output)} lines for {len(rows)} rows")
        try:
            return [[float(value) for value in line.split(",")] for line in output]
        except ValueError as error:
            raise CompiledModelError(f"{self._command[0]} answered something that is not a number: {error}") from error

    def _run(self, lines: str, *, margin: bool = False) -> str:
        command = [*self._command, *(["--margin"] if margin else [])]
        try:
            done = subprocess.run(
                command, input=lines, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_SECONDS
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CompiledModelError(f"cannot run {RUNNER_VARIABLE} ({' '.join(command)}): {error}") from error
        if done.returncode != 0:
            raise CompiledModelError(
                f"{RUNNER_VARIABLE} ({' '.join(command)}) exited {done.returncode}: {done.stderr.strip()}"
            )
        return done.stdout


def _num_feature(metadata: Path) -> int:
    try:
        value = json.loads(metadata.read_text(encoding="utf-8"))["num_feature"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CompiledModelError(f"cannot read num_feature from {metadata}: {error!r}") from error
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CompiledModelError(f"{metadata}: num_feature is {value!r}, not a positive whole number")
    return value
