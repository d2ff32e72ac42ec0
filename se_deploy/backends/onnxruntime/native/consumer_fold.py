"""Gate folded into the conv that reads the SE output (depthwise, or 1x1): no scaling pass left for SE.

SE-MobileNet puts SE after a block's pointwise conv (with its ReLU, so :mod:`.fold` cannot use the
producer), and the next block starts with a depthwise conv. A depthwise filter acts per channel, and zero
padding stays zero when scaled, so::

    dwconv(s * X; W, B) = dwconv(X; W', B)   with   W'[c] = s[c] * W[c]

exactly: the gate scales C*k*k filter values per sample instead of C*H*W activations. ORT stores a
blocked depthwise filter ``[C, 1, k, k]`` as OIHWBo, bytes ``[C/b, 1, k, k, b]`` (channel ``c`` at
``(c // b, c % b)``), so a gate ``[N, C, 1, 1]`` viewed ``[N, C/b, 1, b]`` broadcasts onto the filter
viewed ``[1, C/b, k*k, b]``. At batch N the conv runs once with ``group=N*C`` over the batch viewed as
``[1, N*C, H, W]`` (same memory as ``[N, C/b, H, W, b]``), bias tiled N times; its output viewed back
as ``[N, C, H', W']``. The conv keeps its own stride, padding, dilation, fused activation and fused sum.

The same holds for an ungrouped conv after the block, 1x1 (MobileNetV3, EfficientNet, PP-LCNet: SE between
the depthwise and the projecting 1x1 conv) or k x k (SE-VGG: SE between two 3x3 convs):
``conv(s * X; W) = conv(X; W diag(s))``, the gate scaling the weight's input channels (zero padding stays
zero). ORT stores a blocked weight ``[O, C, kh, kw]`` as OIHWBiBo, bytes ``[O/b, C/b, kh, kw, b_in, b_out]``
(input channel ``c`` at axes 1 and 4), so the gate viewed ``[N, 1, C/b, 1, b, 1]`` broadcasts onto the
weight viewed ``[1, O/b, C/b, kh*kw, b, b]``; at batch N one ``group=N`` conv. The weight (O x C x kh x kw
values per sample) must be smaller than the activation it spares (C x H x W): folded only where
``O*kh*kw < H*W`` (SE-VGG: the first three stages, whose activations are the largest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.graph import (
    FOLDED_CONV,
    GATE_WEIGHTS,
    Shape,
    attribute,
    is_op,
    label,
)
from se_deploy.backends.onnxruntime.native.platform import NCHWC_DOMAIN
from se_deploy.backends.onnxruntime.native.rewrite import BlockOutcome, BlockRewriter

FOLD_TARGET = "depthwise conv after the SE block"
POINTWISE_TARGET = "1x1 conv after the SE block"
DENSE_TARGET = "k x k conv after the SE block"
_NOT_ALONE = "the SE output does not feed one blocked conv alone"


@dataclass(frozen=True)
class ConsumerPlan:
    """What folding one block's gate into the depthwise conv after it reads from ORT's graph."""

    reorder: onnx.NodeProto  # ORT's ReorderInput of the SE output
    conv: onnx.NodeProto  # the nchwc conv that reads it: depthwise, or ungrouped (1x1 or k x k)
    weight: np.ndarray  # ORT's blocked filter: OIHWBo dims [C, 1, kh, kw], or OIHWBiBo dims [O, C, kh, kw]
    bias: np.ndarray | None  # [C] or [O]

    @property
    def depthwise(self) -> bool:
        return self.weight.shape[1] == 1 and int(attribute(self.conv, "group", 1)) > 1


def consumer_plan(rewriter: BlockRewriter, mul: onnx.NodeProto, shape: Shape) -> ConsumerPlan | str:
    """How to fold the gate into the conv after the block, or why that cannot be done exactly."""
    _n, c, h, w = shape
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
    group = int(attribute(conv, "group", 1))
    weight = g.initializers.get(conv.input[1])
    array = None if weight is None else numpy_helper.to_array(weight).astype(np.float32)
    if array is None or array.ndim != 4:
        return "the conv after the SE block has no constant weight"
    if group == c and array.shape[:2] == (c, 1):
        out_c = c
        if array.shape[2] * array.shape[3] >= h * w:
            return (
                f"the depthwise filter is not smaller than the image ({array.shape[2]}x{array.shape[3]} >= H*W={h * w})"
            )
    elif group == 1 and array.shape[1] == c:
        out_c, taps = array.shape[0], array.shape[2] * array.shape[3]
        if out_c % rewriter.block:  # ORT pads blocked weights to the block; a weight that is not is not ORT's
            return f"the conv after the SE block has {out_c} outputs, not a multiple of the block {rewriter.block}"
        if out_c * taps >= h * w:
            return f"the conv's weight is not smaller than the activation (Cout*kh*kw={out_c}*{taps} >= H*W={h * w})"
    else:
        return f"the conv after the SE block is neither depthwise nor ungrouped (group {group})"
    bias = None
    if len(conv.input) > 2 and conv.input[2]:
        if conv.input[2] not in g.initializers:
            return "the conv after the SE block has a bias that is not a constant"
        bias = numpy_helper.to_array(g.initializers[conv.input[2]]).astype(np.float32).reshape(-1)
        if bias.size != out_c:
            return f"the conv after the SE block has a bias of {bias.size} values, not {out_c}"
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
    """Replace the Mul and the conv after it by that conv over X with gate-scaled weights."""
    n, c, h, w = shape
    g, b = rewriter.g, rewriter.block
    xb = rewriter.blocked_source(x) or rewriter.blocked_concat(x, shape)
    hoisted = rewriter.rewrite_squeeze(squeeze, xb, c)
    gate_source = rewriter.blocked_source(gate) or gate
    out_c, kh, kw = plan.weight.shape[0], plan.weight.shape[2], plan.weight.shape[3]
    if plan.depthwise:
        # s[n, c] * W[c] on OIHWBo bytes: [1, C/b, kh*kw, b] * s[N, C/b, 1, b] -> [N*C, 1, kh, kw]
        w_view, s_shape, groups = plan.weight.reshape(1, c // b, kh * kw, b), [n, c // b, 1, b], n * c
        weight_shape = [n * c, 1, kh, kw]
    else:
        # W[o, c] * s[n, c] on OIHWBiBo bytes: [1, O/b, C/b, kh*kw, b_in, b_out] * s[N, 1, C/b, 1, b, 1]
        w_view = plan.weight.reshape(1, out_c // b, c // b, kh * kw, b, b)
        s_shape, groups, weight_shape = [n, 1, c // b, 1, b, 1], n, [n * out_c, c, kh, kw]
    s_view, scaled, weight = g.fresh("gate_view"), g.fresh("scaled_w"), g.fresh("folded_w")
    g.add("Reshape", [gate_source, g.const("shape_gate", np.array(s_shape, np.int64))], [s_view])
    g.add("Mul", [g.const("consumer_w", np.ascontiguousarray(w_view)), s_view], [scaled], role=GATE_WEIGHTS)
    g.add("Reshape", [scaled, g.const("shape_w", np.array(weight_shape, np.int64))], [weight])

    inputs = [xb if n == 1 else g.view(xb, [1, n * c, h, w]), weight]
    inputs.append(g.const("consumer_b", np.tile(plan.bias, n)) if plan.bias is not None else "")
    if len(plan.conv.input) > 3 and plan.conv.input[3]:  # a fused sum: viewed like the output
        fused_sum = plan.conv.input[3]
        inputs.append(fused_sum if n == 1 else g.view(fused_sum, [1, n * out_c, 0, 0]))
    attrs = {a.name: helper.get_attribute_value(a) for a in plan.conv.attribute if a.name != "group"}
    attrs["group"] = groups
    out = plan.conv.output[0]
    if n == 1:
        g.add("Conv", inputs, [out], domain=NCHWC_DOMAIN, role=FOLDED_CONV, **attrs)
    else:
        flat_out = g.fresh("z_flat")
        g.add("Conv", inputs, [flat_out], domain=NCHWC_DOMAIN, role=FOLDED_CONV, **attrs)
        # 0 copies the input's dim: H', W' as the conv computed them (stride, padding)
        g.add("Reshape", [flat_out, g.const("shape_nchw", np.array([n, out_c, 0, 0], np.int64))], [out])
    for node in (mul, plan.reorder, plan.conv):
        g.remove(node)
    target = FOLD_TARGET if plan.depthwise else POINTWISE_TARGET if kh * kw == 1 else DENSE_TARGET
    return BlockOutcome(label(mul), c, True, hoisted=hoisted, folded=True, fold_target=target)
