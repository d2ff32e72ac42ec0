"""When the TensorRT runtime must call ``set_input_shape``: pure logic, tested without TensorRT.

An execution context keeps the last input shape it was given. Device buffers are cached per batch
size, but the context's shape is one value: a batch of 8 after a batch of 1 must set the shape again,
even though buffers for 8 already exist (bench alternates batch sizes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ContextShape:
    """The input shape the execution context currently holds (None before the first call)."""

    current: tuple[int, ...] | None = None

    def must_set(self, shape: tuple[int, ...]) -> bool:
        """True when ``shape`` differs from the context's: the caller then calls ``set_input_shape``."""
        if shape == self.current:
            return False
        self.current = shape
        return True
