"""The demo's time (rows of ``make bench``): `make demo` must play its story in under 3 minutes on 2
cores. The whole story is timed against that budget, and each step and the deployment against the
whole, so that a demo over its budget says where the time went."""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from conveyor_tools import demo

if TYPE_CHECKING:
    from conveyor_tools.bench import Row

BUDGET_SECONDS = 180.0


def demo_time(template: Path, row: type[Row]) -> list[Row]:
    """Play the demo once, quietly: its wall time against the budget, then each part against the whole."""
    with tempfile.TemporaryDirectory() as folder, redirect_stdout(io.StringIO()):
        began = time.monotonic()
        summary = demo.run(template, Path(folder) / "summary.json", console=Console(file=io.StringIO()))
        total = time.monotonic() - began
    name = "demo: the whole story, make demo's wall time (vs the 3-minute budget)"
    rows = [row.measured(name, total, BUDGET_SECONDS, "s", 1)]
    deployed = total - summary["seconds"]
    rows.append(row.measured("demo: deployment into the local cloud (share of the whole)", deployed, total, "s", 1))
    for step in summary["steps"]:
        name = f"demo: step {step['number']}, {step['title']} (share of the whole)"
        rows.append(row.measured(name, step["seconds"], total, "s", 1))
    return rows
