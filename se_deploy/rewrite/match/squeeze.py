"""Link 1, the squeeze: GlobalAveragePool, or ReduceMean over H and W (axes as attribute or input).

Anything else (a reduction over channels or over all axes, a custom-domain pool, a pool of a rank-3
tensor) is no candidate at all: no near miss. Near-miss reason beside it: FC1's input width must be the
squeezed tensor's channel count.
"""

from __future__ import annotations

import numpy as np
import onnx

from se_deploy.rewrite.graph import GraphIndex, attribute
from se_deploy.rewrite.match.walk import Walk, is_standard


def is_spatial_squeeze(index: GraphIndex, node: onnx.NodeProto) -> bool:
    if not is_standard(node):
        return False
    if node.op_type == "GlobalAveragePool":
        shape = index.shape(node.input[0])
        return shape is None or len(shape) == 4
    if node.op_type == "ReduceMean":
        axes = reduce_axes(index, node)
        if axes is None:
            return False
        shape = index.shape(node.input[0])
        rank = len(shape) if shape is not None else 4
        return rank == 4 and {a % rank for a in axes} == {2, 3}
    return False


def reduce_axes(index: GraphIndex, node: onnx.NodeProto) -> list[int] | None:
    if index.opset >= 18:
        if len(node.input) < 2 or not node.input[1]:
            return None  # reduce over all axes: not a spatial squeeze
        value = index.constant(node.input[1])
        return None if value is None else [int(a) for a in np.atleast_1d(value)]
    axes = attribute(node, "axes")
    return None if axes is None else [int(a) for a in axes]  # type: ignore[union-attr]


def keeps_dims(squeeze: onnx.NodeProto) -> bool:
    """Whether the squeeze's output is (N, C, 1, 1) rather than (N, C)."""
    return squeeze.op_type == "GlobalAveragePool" or int(attribute(squeeze, "keepdims", 1)) == 1  # type: ignore[arg-type]


def check_squeezed_channels(walk: Walk, x: str, channels: int) -> None:
    """FC1 must read as many channels as the squeezed tensor has (rank 4 is ``is_spatial_squeeze``'s)."""
    x_shape = walk.index.shape(x)
    if x_shape is not None and isinstance(x_shape[1], int) and x_shape[1] != channels:
        walk.soft("fc1", f"FC1 takes {channels} channels but the squeezed tensor has {x_shape[1]}")
