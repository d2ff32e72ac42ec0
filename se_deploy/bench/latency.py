"""Interleaved latency measurement: every variant in every round, so drift hits all of them alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from se_deploy.progress import Step


class Runner(Protocol):
    def infer(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass
class Measurement:
    """Latencies of one runner at one batch size: every sample, and each round's median."""

    key: tuple[str, ...]
    batch: int
    samples_ms: list[float] = field(default_factory=list)
    round_medians_ms: list[float] = field(default_factory=list)


def measure_interleaved(
    runners: dict[tuple[str, ...], Runner],
    inputs: dict[int, np.ndarray],
    *,
    warmup: int = 3,
    rounds: int = 10,
    iterations: int = 5,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[tuple[tuple[str, ...], int], Measurement]:
    """Rounds of (A x iterations, B x iterations, ...), the order rotated each round."""
    if rounds < 1 or iterations < 1 or warmup < 0:
        raise ValueError("rounds and iterations must be >= 1, warmup >= 0")
    results: dict[tuple[tuple[str, ...], int], Measurement] = {}
    keys = list(runners)
    for batch, data in inputs.items():
        for key in keys:
            progress(f"warm-up {'/'.join(key)} batch {batch}")
            for _ in range(warmup):
                runners[key].infer(data)
            results[key, batch] = Measurement(key, batch)
        for round_index in range(rounds):
            progress(Step(f"batch {batch}: round {round_index + 1}/{rounds}", round_index, rounds))
            shift = round_index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                times = []
                for _ in range(iterations):
                    start = time.perf_counter()
                    runners[key].infer(data)
                    times.append((time.perf_counter() - start) * 1e3)
                measurement = results[key, batch]
                measurement.samples_ms.extend(times)
                measurement.round_medians_ms.append(statistics.median(times))
    return results
