"""Progress reporting: library callbacks take plain strings or Steps; the CLI shows them on stderr."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from se_deploy.bench.latency import measure_interleaved
from se_deploy.progress import Step, silent, terminal_progress


def test_a_step_is_a_string_with_counts() -> None:
    step = Step("round 2/5", 1, 5)
    assert step == "round 2/5" and isinstance(step, str) and (step.done, step.total) == (1, 5)
    assert Step("plain").total is None


def test_quiet_reports_nothing() -> None:
    buffer = io.StringIO()
    with terminal_progress(Console(file=buffer), quiet=True) as progress:
        progress("something")
    assert progress is silent and buffer.getvalue() == ""


def test_a_pipe_gets_one_line_per_step_with_the_elapsed_time() -> None:
    buffer = io.StringIO()
    with terminal_progress(Console(file=buffer, force_terminal=False)) as progress:
        progress("exporting")
        progress("exporting")  # repeated: not printed again
        progress(Step("round 1/2", 0, 2))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("s] exporting") and lines[1].endswith("round 1/2")


def test_a_terminal_gets_a_bar_that_disappears() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with terminal_progress(console) as progress:
        progress("exporting")
        progress(Step("round 1/2", 1, 2))
    assert "round 1/2" in buffer.getvalue() or "exporting" in buffer.getvalue()


class _Instant:
    def infer(self, batch: np.ndarray) -> np.ndarray:
        return batch


def test_bench_rounds_report_countable_steps() -> None:
    steps: list[str] = []
    measure_interleaved(
        {("a",): _Instant(), ("b",): _Instant()},
        {1: np.zeros(1)},
        warmup=0,
        rounds=3,
        iterations=1,
        progress=steps.append,
    )
    rounds = [s for s in steps if getattr(s, "total", None)]
    assert [(s.done, s.total) for s in rounds] == [(0, 3), (1, 3), (2, 3)]  # type: ignore[attr-defined]
