"""When the TensorRT runtime sets the context's input shape (the decision, without TensorRT)."""

from __future__ import annotations

from se_deploy.backends.tensorrt.context_shape import ContextShape


def test_alternating_batch_sizes_set_the_shape_every_time() -> None:
    """bench alternates batch sizes: each change must reach the context, not only the first sighting."""
    state = ContextShape()
    decisions = [state.must_set((n, 3, 32, 32)) for n in (1, 8, 1, 8, 8, 1)]
    assert decisions == [True, True, True, True, False, True]
    assert state.current == (1, 3, 32, 32)
