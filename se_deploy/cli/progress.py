"""Progress on the terminal: ``terminal_progress`` turns library progress callbacks into a rich progress bar
on an interactive stderr, and into one plain line per step (with the elapsed time) on a pipe or log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from se_deploy.progress import Progress, silent


@contextmanager
def terminal_progress(console: Console, *, quiet: bool = False) -> Iterator[Progress]:
    """A callback that shows progress on ``console`` (stderr) until the block ends; nothing when ``quiet``."""
    if quiet:
        yield silent
        return
    if not console.is_terminal:
        yield _plain_lines(console)
        return
    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),  # "3/10" for countable steps, nothing otherwise
        TimeElapsedColumn(),
    )
    with _progress_bar(console, columns) as bar:
        task = bar.add_task("starting", total=None, count="")

        def update(message: str) -> None:
            done, total = getattr(message, "done", None), getattr(message, "total", None)
            count = f"{done or 0}/{total}" if total else ""
            bar.update(task, description=str(message), completed=done or 0, total=total, count=count)

        yield update


def _plain_lines(console: Console) -> Progress:
    start = time.monotonic()
    last: list[str] = []

    def update(message: str) -> None:
        if last and last[0] == message:
            return
        last[:] = [str(message)]
        console.print(f"[{time.monotonic() - start:6.1f}s] {message}", highlight=False, markup=False, soft_wrap=True)

    return update


def _progress_bar(console: Console, columns: tuple[object, ...]):  # type: ignore[no-untyped-def]
    from rich.progress import Progress as RichProgress

    return RichProgress(*columns, console=console, transient=True)  # type: ignore[arg-type]
