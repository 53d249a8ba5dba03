"""The demo's time (rows of ``make bench``): `make demo` must play its story in under 3 minutes on 2
cores. The whole story is timed against that budget, and each step and the deployment against the
whole, so that a demo over its budget says where the time went."""

from __future__ import annotations

import io
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from rich.console import Console

from conveyor_tools import demo

BUDGET_SECONDS = 180.0


def demo_time(template: Path) -> list[tuple[str, float, float]]:
    """Play the demo once, quietly: (name, seconds, baseline seconds) of the whole story against the
    budget, then of the deployment and each step against the whole."""
    with tempfile.TemporaryDirectory() as folder, redirect_stdout(io.StringIO()):
        began = time.monotonic()
        summary = demo.run(template, Path(folder) / "summary.json", console=Console(file=io.StringIO()))
        total = time.monotonic() - began
    name = "demo: the whole story, make demo's wall time (vs the 3-minute budget)"
    rows = [(name, total, BUDGET_SECONDS)]
    rows.append(("demo: deployment into the local cloud (share of the whole)", total - summary["seconds"], total))
    for step in summary["steps"]:
        rows.append((f"demo: step {step['number']}, {step['title']} (share of the whole)", step["seconds"], total))
    return rows
