"""Gate folded into the depthwise conv that reads the SE output: no scaling pass where SE precedes one.

SE-MobileNet puts SE after a block's pointwise conv (with its ReLU, so :mod:`.fold` cannot use the
producer), and the next block starts with a depthwise conv. A depthwise filter acts per channel, and zero
padding stays zero when scaled, so::

    dwconv(s * X; W, B) = dwconv(X; W', B)   with   W'[c] = s[c] * W[c]

exactly: the gate scales C*k*k filter values per sample instead of C*H*W activations. ORT stores a
blocked depthwise filter ``[C, 1, k, k]`` as OIHWBo, bytes ``[C/b, 1, k, k, b]`` (channel ``c`` at
``(c // b, c % b)``), so a gate ``[N, C, 1, 1]`` viewed ``[N, C/b, 1, b]`` broadcasts onto the filter
viewed ``[1, C/b, k*k, b]``. At batch N the conv runs once with ``group=N*C`` over the batch viewed as
``[1, N*C, H, W]`` (same memory as ``[N, C/b, H, W, b]``), bias tiled N times; its output viewed back
as ``[N, C, H', W']``. The conv keeps its own stride, padding, dilation and fused activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.graph import FOLDED_CONV, GATE_WEIGHTS, Shape, attribute, is_op, label
from se_deploy.backends.onnxruntime.native.platform import NCHWC_DOMAIN
from se_deploy.backends.onnxruntime.native.rewrite import BlockOutcome, BlockRewriter

FOLD_TARGET = "depthwise conv after the SE block"
_NOT_ALONE = "the SE output does not feed one blocked conv alone"


@dataclass(frozen=True)
class ConsumerPlan:
    """What folding one block's gate into the depthwise conv after it reads from ORT's graph."""

    reorder: onnx.NodeProto  # ORT's ReorderInput of the SE output
    conv: onnx.NodeProto  # the depthwise nchwc conv that reads it
    weight: np.ndarray  # ORT's blocked (OIHWBo) filter, dims [C, 1, kh, kw]
    bias: np.ndarray | None  # [C]


def consumer_plan(rewriter: BlockRewriter, mul: onnx.NodeProto, shape: Shape) -> ConsumerPlan | str:
    """How to fold the gate into the conv after the block, or why that cannot be done exactly."""
    _n, c, _h, _w = shape
    g = rewriter.g
    y = mul.output[0]
    users = g.consumers.get(y, [])
    if y in g.outputs or len(users) != 1:
        return _NOT_ALONE
    reorder = users[0]
    if not is_op(reorder, "ReorderInput", NCHWC_DOMAIN) or attribute(reorder, "channels_last", 0):
        return _NOT_ALONE
    readers = g.consumers.get(reorder.output[0], [])
    if reorder.output[0] in g.outputs or len(readers) != 1 or not is_op(readers[0], "Conv", NCHWC_DOMAIN):
        return _NOT_ALONE
    conv = readers[0]
    if conv.input[0] != reorder.output[0]:
        return _NOT_ALONE
    if int(attribute(conv, "group", 1)) != c:
        return "the conv after the SE block is not depthwise (group != C)"
    if len(conv.input) > 3 and conv.input[3]:
        return "the depthwise conv after the SE block has a fused sum"
    weight = g.initializers.get(conv.input[1])
    array = None if weight is None else numpy_helper.to_array(weight).astype(np.float32)
    if array is None or array.ndim != 4 or array.shape[:2] != (c, 1):
        return "the depthwise conv's weight is not a constant [C, 1, kh, kw] tensor"
    bias = None
    if len(conv.input) > 2 and conv.input[2]:
        if conv.input[2] not in g.initializers:
            return "the depthwise conv's bias is not a constant"
        bias = numpy_helper.to_array(g.initializers[conv.input[2]]).astype(np.float32).reshape(-1)
        if bias.size != c:
            return "the depthwise conv's bias is not a constant [C] tensor"
    return ConsumerPlan(reorder, conv, array, bias)


def fold_into_consumer(
    rewriter: BlockRewriter,
    mul: onnx.NodeProto,
    x: str,
    gate: str,
    squeeze: onnx.NodeProto,
    shape: Shape,
    plan: ConsumerPlan,
) -> BlockOutcome:
    """Replace the Mul and the depthwise conv by one depthwise conv over X with gate-scaled filters."""
    n, c, h, w = shape
    g, b = rewriter.g, rewriter.block
    xb = rewriter.blocked_source(x) or rewriter.blocked_concat(x, shape)
    hoisted = rewriter.rewrite_squeeze(squeeze, xb, c)
    kh, kw = plan.weight.shape[2:]

    # s[n, c] * W[c] on ORT's blocked bytes: [1, C/b, kh*kw, b] * s[N, C/b, 1, b] -> [N*C, 1, kh, kw]
    gate_source = rewriter.blocked_source(gate) or gate
    w_view = g.const("dw_w", plan.weight.reshape(1, c // b, kh * kw, b))
    s_view, scaled, weight = g.fresh("gate_view"), g.fresh("scaled_dw_w"), g.fresh("folded_dw_w")
    g.add("Reshape", [gate_source, g.const("shape_gate", np.array([n, c // b, 1, b], np.int64))], [s_view])
    g.add("Mul", [w_view, s_view], [scaled], role=GATE_WEIGHTS)
    g.add("Reshape", [scaled, g.const("shape_w", np.array([n * c, 1, kh, kw], np.int64))], [weight])

    source = xb
    if n > 1:
        source = g.fresh("flat")
        g.add("Reshape", [xb, g.const("shape_flat", np.array([1, n * c, h, w], np.int64))], [source])
    inputs = [source, weight]
    if plan.bias is not None:
        inputs.append(g.const("dw_b", np.tile(plan.bias, n)))
    attrs = {a.name: helper.get_attribute_value(a) for a in plan.conv.attribute if a.name != "group"}
    attrs["group"] = n * c
    out = plan.conv.output[0]
    if n == 1:
        g.add("Conv", inputs, [out], domain=NCHWC_DOMAIN, role=FOLDED_CONV, **attrs)
    else:
        flat_out = g.fresh("z_flat")
        g.add("Conv", inputs, [flat_out], domain=NCHWC_DOMAIN, role=FOLDED_CONV, **attrs)
        # 0 copies the input's dim: H', W' as the conv computed them (stride, padding)
        g.add("Reshape", [flat_out, g.const("shape_nchw", np.array([n, c, 0, 0], np.int64))], [out])
    for node in (mul, plan.reorder, plan.conv):
        g.remove(node)
    return BlockOutcome(label(mul), c, True, hoisted=hoisted, folded=True, fold_target=FOLD_TARGET)
