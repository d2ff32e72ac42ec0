"""What a loaded runner accepts, and the checks every runner makes before it runs (a leaf module).

Imports nothing of se_deploy but ``errors``: every backend's runner (``backends/base.py``) and the
serving code use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from se_deploy.errors import InvalidArgumentError


@dataclass(frozen=True)
class InputSpec:
    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]  # None where the engine takes any size (the batch)
    min_batch: int
    max_batch: int | None  # None: no limit known

    def describe(self) -> str:
        dims = ", ".join("N" if d is None else str(d) for d in self.shape)
        limit = f"{self.min_batch}..{self.max_batch}" if self.max_batch else f">= {self.min_batch}"
        return f"{self.name}: {self.dtype.name}[{dims}], batch {limit}"


def check_batch(spec: InputSpec, batch: Any) -> np.ndarray:
    """Raise InvalidArgumentError unless ``batch`` fits ``spec`` (type, dtype, rank, sizes, batch range)."""
    if not isinstance(batch, np.ndarray):
        raise InvalidArgumentError(f"expected a numpy array for {spec.describe()}, got {type(batch).__name__}")
    if batch.dtype != spec.dtype:
        raise InvalidArgumentError(
            f"input dtype {batch.dtype} does not match the engine's {spec.dtype} ({spec.describe()}); "
            f"convert with batch.astype(np.{spec.dtype.name})"
        )
    if batch.ndim != len(spec.shape):
        raise InvalidArgumentError(
            f"expected a rank-{len(spec.shape)} batch ({spec.describe()}), got shape {batch.shape}"
        )
    for axis, (want, got) in enumerate(zip(spec.shape, batch.shape, strict=True)):
        if axis > 0 and want is not None and want != got:
            raise InvalidArgumentError(f"dimension {axis} must be {want}, got shape {batch.shape} ({spec.describe()})")
    n = batch.shape[0]
    if n < spec.min_batch or (spec.max_batch is not None and n > spec.max_batch):
        raise InvalidArgumentError(f"batch size {n} is outside the engine's range ({spec.describe()}); split the batch")
    return batch


def check_input(spec: InputSpec, batch: Any, *, allow_nonfinite: bool) -> np.ndarray:
    """``check_batch``, then the NaN/Inf policy: what every loaded engine checks before it runs."""
    check_batch(spec, batch)
    if not allow_nonfinite:
        refuse_nonfinite(batch)
    return batch


def refuse_nonfinite(batch: np.ndarray) -> None:
    """Raise InvalidArgumentError if ``batch`` holds NaN or infinity."""
    finite = np.isfinite(batch)
    if finite.all():
        return
    bad = batch[~finite]
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    raise InvalidArgumentError(
        f"input holds {int(np.isnan(bad).sum())} NaN and {int(np.isinf(bad).sum())} infinite value(s) "
        f"(first at index {first}); fix the preprocessing, or pass allow_nonfinite=True to run them anyway"
    )
