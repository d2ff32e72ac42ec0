"""Batch buckets: the SE-native graph fixes its batch, so an engine holds one graph per bucket.

A batch of ``n`` runs on the smallest bucket ``>= n`` (padded with copies of its last sample); a batch
larger than the largest bucket runs as chunks of it.
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
    """(padded chunk, its bucket, real samples in it) covering ``batch`` in order."""
    largest = max(buckets)
    for start in range(0, batch.shape[0], largest):
        part = batch[start : start + largest]
        n = part.shape[0]
        bucket = bucket_for(n, buckets)
        if bucket > n:
            pad = np.repeat(part[-1:], bucket - n, axis=0)  # a real sample: no NaN/denormal surprises
            part = np.concatenate([part, pad], axis=0)
        yield np.ascontiguousarray(part), bucket, n
