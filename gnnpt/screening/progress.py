"""The screening progress bar: molecules done (of an estimated total when cheap to know), molecules/s and ETA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Molecules per second over the last seconds of the run."""

    def render(self, task: Task) -> Text:
        return Text("? mol/s" if task.speed is None else f"{task.speed:,.0f} mol/s", style="progress.data.speed")


@contextmanager
def screening_bar(total: int | None, done: int = 0, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A function to call with each chunk's row count; ``done`` rows (a resumed run's) count as already finished."""
    if not enabled:
        yield lambda rows: None
        return
    columns = (
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("screen", total=total, completed=done)
        yield lambda rows: bar.advance(task, rows)
