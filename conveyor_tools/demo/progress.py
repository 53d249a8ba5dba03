"""The demo's live progress on the terminal: the step under way with a spinner, its wall time and the
stack time it covered, and what each step found. Without a terminal (CI, a pipe) it prints lines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from localcloud.clock import Clock


@dataclass
class Step:
    number: int
    title: str
    outcome: str = ""
    ok: bool = False
    seconds: float = 0.0
    stack_seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        return {
            "number": self.number,
            "title": self.title,
            "outcome": self.outcome,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "stack_seconds": round(self.stack_seconds),
        }


@dataclass
class Progress:
    """Steps as they run; ``detail`` lines print above the live line."""

    clock: Clock
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    steps: list[Step] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)

    def say(self, message: str) -> None:
        self.console.print(f"[bold]==>[/bold] {message}")

    def detail(self, message: str) -> None:
        self.console.print(f"    {message}", markup=False)

    @contextmanager
    def step(self, number: int, title: str) -> Iterator[Step]:
        """Run one step of the story: it ends ok only if the block sets an outcome and raises nothing."""
        step = Step(number, title)
        self.steps.append(step)
        self.console.print(f"\n[bold cyan]{number}.[/bold cyan] [bold]{title}[/bold]")
        began, stack_began = time.monotonic(), self.clock.now()
        line = _Line(step, began, stack_began, self)
        try:
            with Live(Spinner("dots", text=line), console=self.console, refresh_per_second=8, transient=True):
                yield step
        except Exception as error:
            step.outcome = f"failed: {error}"
            raise
        else:
            step.ok = bool(step.outcome)
        finally:
            step.seconds = time.monotonic() - began
            step.stack_seconds = (self.clock.now() - stack_began).total_seconds()
            mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
            self.console.print(
                f"    {mark} {step.outcome or 'no outcome'} "
                f"[dim]({step.seconds:.1f} s; stack time +{_clock(step.stack_seconds)})[/dim]"
            )

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started


@dataclass
class _Line:
    """The live line: redrawn on every refresh with the times so far."""

    step: Step
    began: float
    stack_began: datetime
    progress: Progress

    def __rich__(self) -> Text:
        stack = (self.progress.clock.now() - self.stack_began) / timedelta(seconds=1)
        line = Text.assemble(
            (f"step {self.step.number}", "bold"),
            f"  {time.monotonic() - self.began:5.1f} s",
            (f"  stack time +{_clock(stack)}", "dim"),
            f"  (demo {self.progress.seconds:5.1f} s)",
        )
        line.no_wrap, line.overflow = True, "ellipsis"
        return line


def _clock(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"
