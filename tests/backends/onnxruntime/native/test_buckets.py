from __future__ import annotations

import numpy as np
import pytest

from se_deploy.backends.onnxruntime.native.buckets import batch_buckets, bucket_for, chunks
from se_deploy.errors import InvalidArgumentError


def test_buckets_are_powers_of_two_up_to_the_max() -> None:
    assert batch_buckets(1) == [1] and batch_buckets(8) == [1, 2, 4, 8] and batch_buckets(6) == [1, 2, 4, 6]
    assert bucket_for(3, [1, 2, 4, 8]) == 4 and bucket_for(9, [1, 2, 4, 8]) == 8
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        batch_buckets(0)


@pytest.mark.parametrize(
    ("n", "buckets", "expected"),
    [
        (7, [1, 2, 4, 8], [(4, 4), (2, 2), (1, 1)]),  # split into whole buckets: nothing computed for nothing
        (19, [1, 2, 4, 8], [(8, 8), (8, 8), (2, 2), (1, 1)]),
        (3, [4], [(4, 3)]),  # a fixed-batch engine pads
        (5, [2, 4], [(4, 4), (2, 1)]),
    ],
)
def test_chunks_cover_the_batch_in_order(n: int, buckets: list[int], expected: list[tuple[int, int]]) -> None:
    batch = np.arange(n, dtype=np.float32).reshape(n, 1)
    parts = list(chunks(batch, buckets))
    assert [(bucket, real) for _part, bucket, real in parts] == expected
    assert all(part.shape[0] == bucket for part, bucket, _real in parts)
    np.testing.assert_array_equal(np.concatenate([part[:real] for part, _b, real in parts]), batch)
    last, _bucket, real = parts[-1]
    assert np.all(last[real:] == last[real - 1])  # padding repeats a real sample
