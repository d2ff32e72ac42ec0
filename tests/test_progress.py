"""Progress reporting: library callbacks take plain strings or Steps (the CLI side: tests/cli/test_progress.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from se_deploy.bench.latency import measure_interleaved
from se_deploy.progress import Step


def test_a_step_is_a_string_with_counts() -> None:
    step = Step("round 2/5", 1, 5)
    assert step == "round 2/5" and isinstance(step, str) and (step.done, step.total) == (1, 5)
    assert Step("plain").total is None


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


def test_the_progress_callbacks_import_no_terminal_library() -> None:
    script = "import sys; import se_deploy.progress; print('rich' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr
