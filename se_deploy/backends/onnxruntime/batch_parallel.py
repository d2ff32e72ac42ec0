"""Run a batch as per-core slices, one intra-op thread each: for graphs with ops ONNX Runtime runs on one thread.

ONNX Runtime 1.32 runs a broadcasting ``QLinearMul`` (the INT8 SE scale: the gate ``[N,1,1,C]`` over the
channels-last activation) on one thread, while its convolutions use every intra-op thread
(``benchmarks/results/int8_op_profile/``). So at 2 threads the SE scale's share of an INT8 SE-ResNet-50 at
batch 8 doubles and the SE tax with it. Splitting the batch across cores runs every op, the SE scale
included, on all cores: each slice is a whole inference on one thread, the slices run side by side.

The plan is chosen at build time (``plan_for``) and recorded in ``engine.json``; ``load`` follows it.
Batch 1 cannot be split: it runs on a second session with the intra-op threads asked for.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from se_deploy.errors import InvalidArgumentError

MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class BatchParallelPlan:
    enabled: bool
    reason: str
    timing: dict[str, Any] | None = None  # auto: both plans timed at build (timed_plan)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_option(mode: str, device: str) -> None:
    """Refuse a bad ``--batch-parallel`` before the build starts (it is applied at the end of it)."""
    if mode not in MODES:
        raise InvalidArgumentError(f"--batch-parallel must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "on" and device != "cpu":
        raise InvalidArgumentError(
            f"--batch-parallel on splits a batch across CPU cores; this engine runs on {device}: use --device cpu"
        )


def plan_for(
    mode: str, *, precision: str, device: str, fused: bool, se_blocks: int, dynamic_batch: bool = True
) -> BatchParallelPlan:
    """``--batch-parallel auto|on|off`` for one engine; auto: fused INT8 CPU engines with SE blocks."""
    check_option(mode, device)
    if not dynamic_batch:
        if mode == "on":
            raise InvalidArgumentError(
                "--batch-parallel on splits a batch, but the model has a fixed batch size: export it with a dynamic "
                "batch (se-deploy export does by default), or leave --batch-parallel at auto"
            )
        return BatchParallelPlan(False, "the model has a fixed batch size: nothing to split")
    if device != "cpu":
        return BatchParallelPlan(False, f"a {device} engine: batches run whole on the device")
    if mode == "on":
        return BatchParallelPlan(True, "asked for (--batch-parallel on)")
    if mode == "off":
        return BatchParallelPlan(False, "turned off (--batch-parallel off)")
    if precision == "int8" and fused and se_blocks:
        return BatchParallelPlan(
            True,
            "INT8 SE blocks: ONNX Runtime runs the SE scale (a broadcasting QLinearMul) on one thread, "
            "so batches of 2 or more run as per-core slices",
        )
    why = "no fused SE block" if not (fused and se_blocks) else f"{precision}: ONNX Runtime threads its SE ops"
    return BatchParallelPlan(False, f"auto: {why}")


TIMED_ROUNDS = 5  # interleaved rounds of 3 runs per plan: enough to tell 2x apart, and cheap at build time
MIN_GAIN = 0.03  # sliced must beat whole by this (ratio of medians) to be chosen: a tie keeps the simpler plan
# below this a batch is too fast to time apart run to run (the 32x32 digits model, 0.3-0.6 ms at batch 4,
# flipped between plans over rebuilds): whole batches, a stable plan
MIN_WHOLE_MS = 5.0


def timed_plan(
    plan: BatchParallelPlan, open_session: Callable[[int], Any], feeds: dict[str, np.ndarray]
) -> BatchParallelPlan:
    """An enabled auto plan, kept only if slicing is faster here: both plans timed on ``feeds``, interleaved.

    Slicing pays where the single-threaded ops cost more than handing slices to threads: measured, not
    guessed (the 32x32 digits model's portable INT8 graph ran 2x slower sliced at batch 8; SE-ResNet-50's
    ran faster). ``feeds`` hold a batch of ``2 * cores`` image-like samples.
    """
    cores = available_cores()
    if not plan.enabled or cores < 2:
        return plan
    sliced = BatchParallelSession(open_session, cores)
    plans = {"whole": open_session(cores), "sliced": sliced}
    medians: dict[str, list[float]] = {name: [] for name in plans}
    try:
        for session in plans.values():
            session.run(None, feeds)  # warm-up
        for _ in range(TIMED_ROUNDS):
            for name, session in plans.items():
                medians[name].append(median_run_ms(session, feeds, 3))
    finally:
        sliced.close()
    whole_ms, sliced_ms = float(np.median(medians["whole"])), float(np.median(medians["sliced"]))
    batch = next(iter(feeds.values())).shape[0]
    timing = {"batch": batch, "cores": cores, "whole_ms": round(whole_ms, 3), "sliced_ms": round(sliced_ms, 3)}
    measured = (
        f"timed at build, batch {batch} on {cores} cores: "
        f"sliced {timing['sliced_ms']:.1f} ms, whole {timing['whole_ms']:.1f} ms"
    )
    if timing["whole_ms"] < MIN_WHOLE_MS:  # at the timer's noise floor, and where hand-offs weigh most
        return BatchParallelPlan(False, f"auto: too fast to split ({measured})", timing)
    if timing["sliced_ms"] <= timing["whole_ms"] * (1 - MIN_GAIN):
        return BatchParallelPlan(True, f"{plan.reason} ({measured})", timing)
    return BatchParallelPlan(False, f"auto: slicing did not pay on this model ({measured})", timing)


def median_run_ms(session: Any, feeds: dict[str, np.ndarray], runs: int) -> float:
    """Median wall time of ``runs`` runs of ``session`` on ``feeds``, in ms."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def available_cores() -> int:
    """The cores this process may run on (the container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def slice_bounds(batch: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous [start, stop) ranges covering ``batch`` rows, sizes differing by at most one."""
    parts = max(1, min(parts, batch))
    size, extra = divmod(batch, parts)
    bounds, start = [], 0
    for index in range(parts):
        stop = start + size + (index < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


class BatchParallelSession:
    """``run``/``get_inputs``/``get_outputs`` like an InferenceSession; a batch runs as ``threads`` slices.

    ``open_session(threads)`` opens the engine's session (plain or SE-native) with that many intra-op
    threads. One single-threaded session serves every slice (ORT sessions take concurrent ``run`` calls);
    batches with fewer rows than threads run on a session with ``threads`` intra-op threads, opened on
    first use. Safe to call from several threads (Triton): slices of concurrent calls share the pool.
    """

    def __init__(self, open_session: Callable[[int], Any], threads: int) -> None:
        if threads < 2:
            raise ValueError("a batch-parallel session needs at least 2 threads")
        self.threads = threads
        self._open = open_session
        self._slices = open_session(1)
        self._whole: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="se-deploy-slice")
        self._closed = False
        weakref.finalize(self, self._pool.shutdown, wait=False)  # a runner dropped without close()
        self.sliced_runs = 0  # batches that ran as slices (what served a workload; tests read it)

    def whole(self) -> Any:
        with self._lock:
            if self._whole is None:
                self._whole = self._open(self.threads)
            return self._whole

    @property
    def opened_buckets(self) -> list[int] | None:
        """An SE-native engine's buckets that ran, on either session (None for a plain ONNX Runtime session)."""
        sessions = [s for s in (self._slices, self._whole) if s is not None and hasattr(s, "opened_buckets")]
        return sorted({b for s in sessions for b in s.opened_buckets}) if sessions else None

    def get_inputs(self) -> list[Any]:
        return self._slices.get_inputs()

    def get_outputs(self) -> list[Any]:
        return self._slices.get_outputs()

    def get_providers(self) -> list[str]:
        return self._slices.get_providers()

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray], *args: Any) -> list[np.ndarray]:
        arrays = {name: np.asarray(value) for name, value in feeds.items()}
        rows = {value.shape[0] if value.ndim else 0 for value in arrays.values()}
        # fewer rows than threads: whole, on all intra-op threads (slices would leave cores idle)
        if len(rows) != 1 or (batch := rows.pop()) < self.threads:
            return self.whole().run(output_names, feeds, *args)
        bounds = slice_bounds(batch, self.threads)
        futures = [
            self._pool.submit(
                self._slices.run, output_names, {name: value[start:stop] for name, value in arrays.items()}, *args
            )
            for start, stop in bounds
        ]
        pieces = [[np.asarray(o) for o in future.result()] for future in futures]
        with self._lock:
            self.sliced_runs += 1
        return [np.concatenate(parts, axis=0) for parts in zip(*pieces, strict=True)]

    def close(self) -> None:
        """Stop the slice threads once the runs in flight are done (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=True)
