"""The interleaving scheduler itself (with a recording runner: this tests the schedule, not a backend)."""

from __future__ import annotations

import numpy as np
import pytest

from se_deploy.bench.latency import measure_interleaved


class Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(f"{self.name}{batch.shape[0]}")
        return batch


def test_rounds_interleave_and_rotate() -> None:
    calls: list[str] = []
    runners = {("a",): Recorder("a", calls), ("b",): Recorder("b", calls)}
    results = measure_interleaved(runners, {1: np.zeros((1, 2))}, warmup=1, rounds=3, iterations=2)
    warmup, round1, round2, round3 = (
        ["a1", "b1"],
        ["a1", "a1", "b1", "b1"],
        ["b1", "b1", "a1", "a1"],
        ["a1", "a1", "b1", "b1"],
    )
    assert calls == [*warmup, *round1, *round2, *round3]
    assert len(results[("a",), 1].round_medians_ms) == 3 and len(results[("a",), 1].samples_ms) == 6


def test_bad_schedule_is_refused() -> None:
    with pytest.raises(ValueError):
        measure_interleaved({}, {1: np.zeros(1)}, rounds=0)
