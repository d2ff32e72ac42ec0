"""Batch buckets: the SE-native graph fixes its batch, so an engine holds one graph per bucket.

A batch of ``n`` runs as a sum of buckets, largest first (7 = 4 + 2 + 1 with buckets 1, 2, 4, 8): no
sample is computed for nothing. Padding (copies of the last sample) is left for a remainder no bucket
fits, which happens only when 1 is not a bucket (a model exported with a fixed batch). Padding to the
next power of two instead was measured at 1.26-1.39x stock ORT for batches 3 and 5 on SE-ResNet-50
(``benchmarks/results/native_se_resnet50/padding*.json``): splitting is the default for that reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from se_deploy.errors import InvalidArgumentError


def batch_buckets(max_batch: int) -> list[int]:
    """1, 2, 4, ... up to ``max_batch`` (included even when it is not a power of two)."""
    if max_batch < 1:
        raise InvalidArgumentError(f"--max-batch must be at least 1, got {max_batch}")
    buckets = [1]
    while buckets[-1] * 2 <= max_batch:
        buckets.append(buckets[-1] * 2)
    if buckets[-1] != max_batch:
        buckets.append(max_batch)
    return buckets


def bucket_for(n: int, buckets: list[int]) -> int:
    """The smallest bucket that holds ``n`` samples (the largest one when none does: chunk first)."""
    return next((b for b in sorted(buckets) if b >= n), max(buckets))


def chunks(batch: np.ndarray, buckets: list[int]) -> Iterator[tuple[np.ndarray, int, int]]:
    """(chunk, its bucket, real samples in it) covering ``batch`` in order: whole buckets, largest first."""
    start, total = 0, batch.shape[0]
    while start < total:
        remaining = total - start
        fitting = [b for b in buckets if b <= remaining]
        bucket = max(fitting) if fitting else min(buckets)
        part = batch[start : start + bucket]
        real = part.shape[0]
        if bucket > real:
            pad = np.repeat(part[-1:], bucket - real, axis=0)  # a real sample: no NaN/denormal surprises
            part = np.concatenate([part, pad], axis=0)
        yield np.ascontiguousarray(part), bucket, real
        start += real
