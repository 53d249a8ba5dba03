"""The serving loop: CSV readings files in, predictions out, every input file set aside once served.

A readings file is ``*.csv`` in the readings folder (write it under another name, then rename it):
one row of features a line, in the model's order, no label, no header, an empty cell for a missing
value. Once its predictions are delivered it moves to ``done/``; a line that is not a row of the
model's features is logged with file and line and copied to ``failed/<file>``, with its reason in
``failed/<file>.error.json``, while the file's other lines are still served. A file that cannot
be read or predicted moves to ``failed/`` whole, with its reason. A file whose predictions cannot
be delivered stays where it is, to be tried again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import Model
from .native import CompiledModelError
from .sinks import Prediction, Sink, free_path

DONE_FOLDER = "done"
FAILED_FOLDER = "failed"
LOG = logging.getLogger(__name__)


class ReadingError(ValueError):
    """A line is not a row of the model's features."""


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    error: str


def parse_row(text: str, num_feature: int) -> list[float]:
    """The features of one CSV line (NaN for an empty cell), or :class:`ReadingError` naming the field."""
    cells = text.rstrip("\r\n").split(",")
    if len(cells) != num_feature:
        raise ReadingError(f"{len(cells)} fields, the model reads {num_feature}")
    row = []
    for field, cell in enumerate(cells, start=1):
        value = cell.strip()
        try:
            number = float(value) if value else math.nan
        except ValueError:
            raise ReadingError(f"field {field} is {value[:40]!r}, not a number") from None
        if math.isinf(number) or (value and math.isnan(number)):
            raise ReadingError(f"field {field} is {value!r}, not a finite number (leave the cell empty if missing)")
        row.append(number)
    return row


class Server:
    """Serves the readings files of ``readings`` with ``model`` into ``sink``."""

    def __init__(self, model: Model, readings: Path, sink: Sink) -> None:
        self.model = model
        self.readings = readings
        self.sink = sink
        self.done = readings / DONE_FOLDER
        self.failed = readings / FAILED_FOLDER

    def pending(self) -> list[Path]:
        """The readings files waiting, oldest first."""
        files = [path for path in self.readings.glob("*.csv") if path.is_file() and not path.name.startswith(".")]
        return sorted(files, key=lambda path: (path.stat().st_mtime_ns, path.name))

    def run(self, stop: threading.Event, poll_seconds: float, *, once: bool = False) -> int:
        """Serve until ``stop`` is set (after the file being served), or, with ``once``, what is waiting now.
        The number of files served."""
        self.readings.mkdir(parents=True, exist_ok=True)
        served = 0
        while not stop.is_set():
            for path in self.pending():
                if stop.is_set():
                    break
                served += self.serve_file(path)
            if once:
                break
            stop.wait(poll_seconds)
        return served

    def serve_file(self, path: Path) -> bool:
        """Predict one readings file, deliver its predictions and set it aside; whether it was served."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self._set_aside(path, [BadLine(0, "", f"cannot read the file: {error}")], whole=True)
            return False
        rows, numbers, bad = [], [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_row(line, self.model.num_feature))
                numbers.append(number)
            except ReadingError as error:
                LOG.warning("%s line %d: %s; the line is set aside in %s", path, number, error, self.failed)
                bad.append(BadLine(number, line, str(error)))
        try:
            outputs = self.model.predict(rows)
        except CompiledModelError as error:
            self._set_aside(path, [BadLine(0, "", f"the model cannot predict the file: {error}")], whole=True)
            return False
        predictions = [Prediction(path.name, n, _value(output)) for n, output in zip(numbers, outputs, strict=True)]
        try:
            self.sink.write(path.name, predictions)
        except Exception:
            LOG.exception("%s: the predictions cannot be delivered; the file stays to be served again", path)
            return False
        if bad:
            self._set_aside(path, bad, whole=False)
        self.done.mkdir(parents=True, exist_ok=True)
        os.replace(path, free_path(self.done / path.name))
        LOG.info("%s: %d predictions, %d lines set aside", path, len(predictions), len(bad))
        return True

    def _set_aside(self, path: Path, bad: Sequence[BadLine], *, whole: bool) -> None:
        """Move the file (``whole``) or copy its ``bad`` lines to ``failed/``, with the reasons beside it."""
        self.failed.mkdir(parents=True, exist_ok=True)
        target = free_path(self.failed / path.name)
        if whole:
            LOG.error("%s: %s; the file is set aside in %s", path, bad[0].error, target)
            os.replace(path, target)
        else:
            target.write_text("".join(line.text + "\n" for line in bad), encoding="utf-8")
        errors = [{"line": b.line, "error": b.error} if b.line else {"error": b.error} for b in bad]
        reason = {"file": path.name, "errors": errors}
        target.with_name(target.name + ".error.json").write_text(json.dumps(reason, indent=2), encoding="utf-8")


def _value(output: list[float]) -> float | list[float]:
    return output[0] if len(output) == 1 else output
