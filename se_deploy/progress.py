"""Progress of long work: library code reports through a callback; the CLI renders it on stderr.

Library functions take ``progress: Callable[[str], None]`` and call it with a message, or with a
``Step`` (a ``str`` that also carries ``done``/``total`` when the work is countable), so a plain
``lambda message: ...`` keeps working. ``se_deploy.cli.progress.terminal_progress`` renders those calls.
A leaf: no terminal library here.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


class Step(str):
    """A progress message; ``done`` of ``total`` units when the work is countable."""

    done: int | None
    total: int | None

    def __new__(cls, message: str, done: int | None = None, total: int | None = None) -> Step:
        step = super().__new__(cls, message)
        step.done, step.total = done, total
        return step


def silent(_message: str) -> None:
    """The default callback: report nothing."""
