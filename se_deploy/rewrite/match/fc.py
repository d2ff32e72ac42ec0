"""Links 2 and 4, the fully connected layers: 1x1 Conv, Gemm, or MatMul (+ Add bias), with constant weights.

Returns W as an (out, in) matrix and b in the model's float type. Near-miss reasons beside each check:
``Stop`` when no FC can be read off the node (wrong op, run-time weights, wrong rank, bias size), ``soft``
when it is an FC-shaped op that an SE FC is not (kernel, group, pads, auto_pad, dilation, transA),
and FC2 must be FC1's transpose in shape (``check_fc_chain``).
"""

from __future__ import annotations

import numpy as np
import onnx

from se_deploy.rewrite.graph import attribute
from se_deploy.rewrite.match.walk import Stop, Walk, is_standard

FC_OPS = ("Conv", "Gemm", "MatMul")


def take_fc(walk: Walk, stage: str) -> tuple[np.ndarray, np.ndarray, str]:
    """A fully connected layer at the head: 1x1 Conv, Gemm, or MatMul (+ Add bias). Returns W (out, in), b, kind."""
    node = walk.next_node(stage)
    if not is_standard(node) or node.op_type not in FC_OPS:
        raise Stop(stage, f"expected a fully connected layer (1x1 Conv, Gemm or MatMul), found {node.op_type}")
    if node.input[0] != walk.head:
        raise Stop(stage, f"{node.op_type} takes the squeezed values as its weight operand, not as data")
    weight = walk.index.constant(node.input[1])
    if weight is None:
        raise Stop(stage, f"the {node.op_type} weights are computed at run time, not constants")
    bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
    bias = walk.index.constant(bias_name) if bias_name else None
    if bias_name and bias is None:
        raise Stop(stage, f"the {node.op_type} bias is computed at run time, not a constant")
    if node.op_type == "Conv":
        matrix, kind = _conv_weight(walk, node, weight, stage), "conv"
    elif node.op_type == "Gemm":
        matrix, kind = _gemm_weight(walk, node, weight, stage), "gemm"
        if bias is not None:
            bias = bias * float(attribute(node, "beta", 1.0))  # type: ignore[arg-type]
    else:
        matrix, kind = _matmul_weight(weight, stage), "matmul"
    walk.take(node)
    if kind == "matmul":
        bias = _take_matmul_bias(walk, matrix.shape[0])
    return np.ascontiguousarray(matrix), _bias_vector(bias, matrix, node.op_type, stage), kind


def check_fc_chain(walk: Walk, w1: np.ndarray, w2: np.ndarray) -> None:
    """FC2 maps the reduced width back: W2 is (C, Cr) when W1 is (Cr, C)."""
    reduced, channels = w1.shape
    if w2.shape != (channels, reduced):
        walk.soft("fc2", f"FC shapes do not chain: W1 is {w1.shape} (out, in) but W2 is {w2.shape}")


def _bias_vector(bias: np.ndarray | None, matrix: np.ndarray, op: str, stage: str) -> np.ndarray:
    out_features = matrix.shape[0]
    if bias is None:
        bias = np.zeros(out_features, dtype=matrix.dtype)
    elif bias.size == 1 and out_features != 1:
        bias = np.full(out_features, bias.reshape(()), dtype=matrix.dtype)
    elif bias.size != out_features:
        raise Stop(stage, f"{op} bias has {bias.size} values for {out_features} outputs")
    return np.ascontiguousarray(bias.reshape(out_features).astype(matrix.dtype))


def _conv_weight(walk: Walk, node: onnx.NodeProto, weight: np.ndarray, stage: str) -> np.ndarray:
    if weight.ndim != 4:
        raise Stop(stage, f"Conv weights have rank {weight.ndim}, expected 4")
    if weight.shape[2:] != (1, 1):
        walk.soft(stage, f"Conv kernel is {weight.shape[2]}x{weight.shape[3]}, an SE FC is 1x1")
    if int(attribute(node, "group", 1)) != 1:  # type: ignore[arg-type]
        walk.soft(stage, f"Conv has group={attribute(node, 'group')}, an SE FC has group=1")
    pads = attribute(node, "pads")
    if pads and any(int(p) for p in pads):  # type: ignore[union-attr]
        walk.soft(stage, f"Conv pads {list(pads)} change a 1x1 input; an SE FC has none")  # type: ignore[arg-type]
    auto_pad = attribute(node, "auto_pad", b"NOTSET")
    if auto_pad not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        walk.soft(stage, f"Conv auto_pad={auto_pad!r}; an SE FC has none")
    dilations = attribute(node, "dilations")
    if dilations and any(int(d) != 1 for d in dilations):  # type: ignore[union-attr]
        walk.soft(stage, "Conv is dilated; an SE FC is not")
    return weight[:, :, 0, 0]  # for a non-1x1 kernel a soft failure is already recorded


def _gemm_weight(walk: Walk, node: onnx.NodeProto, weight: np.ndarray, stage: str) -> np.ndarray:
    if int(attribute(node, "transA", 0)):  # type: ignore[arg-type]
        walk.soft(stage, "Gemm transposes its data input (transA=1)")
    if weight.ndim != 2:
        raise Stop(stage, f"Gemm weights have rank {weight.ndim}, expected 2")
    matrix = weight if int(attribute(node, "transB", 0)) else weight.T  # type: ignore[arg-type]
    alpha = float(attribute(node, "alpha", 1.0))  # type: ignore[arg-type]
    return matrix * np.asarray(alpha, dtype=matrix.dtype) if alpha != 1.0 else matrix


def _matmul_weight(weight: np.ndarray, stage: str) -> np.ndarray:
    if weight.ndim != 2:
        raise Stop(stage, f"MatMul weights have rank {weight.ndim}, expected 2")
    return weight.T


def _take_matmul_bias(walk: Walk, out_features: int) -> np.ndarray | None:
    """The Add after a MatMul, when it adds a constant of 1 or ``out_features`` values; else no bias."""
    readers = walk.index.consumers_of(walk.head)
    if len(readers) != 1 or walk.head in walk.index.graph_outputs:
        return None
    node = walk.node(readers[0])
    if node.op_type != "Add" or not is_standard(node):
        return None
    other = node.input[1] if node.input[0] == walk.head else node.input[0]
    bias = walk.index.constant(other)
    if bias is None or bias.size not in (1, out_features):
        return None
    walk.take(node)
    return bias
