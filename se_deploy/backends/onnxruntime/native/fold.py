"""Gate folding: the SE gate scales conv3's weights, so no pass over the activation is left for SE.

Where the SE input is a linear 1x1 conv (the bottleneck's conv3, ``X = W3 x + b3``, BN folded), the
squeeze is hoisted above it (``mean_hw(X) = W3 mean_hw(x) + b3``, with ``W3``/``b3`` absorbed into FC1:
``W1' = W1 W3``, ``b1' = W1 b3 + b1``), so the gate ``s`` is known before conv3 runs, and::

    relu(s * (W3 x + b3) + R) = relu((diag(s) W3) x + s * b3 + R)

conv3 then runs with the run-time weight ``diag(s) W3`` (a ``Mul`` of ORT's blocked weight by ``s``
broadcast along its output-channel axes) and bias ``s * b3``, and keeps the twin's fused residual ``Sum``
and ``Relu``: no scaling pass, no reorders. It pays only where the weight is smaller than the
activation (``Cin < H*W``: the early stages). At batch N the weight is per sample; the conv runs as one
``group=N`` conv over the batch viewed as ``[1, N*Cin, H, W]`` (same memory as ``[N, Cin/b, H, W, b]``).

ORT's blocked 1x1 weight ``[O, I, 1, 1]`` is stored OIHWBiBo: ``[O/b, I/b, 1, 1, b_in, b_out]``, the same
bytes as ``[O/b, I, b_out]``, so the output channel ``o`` sits on axes (0, 2) as ``(o // b, o % b)`` and a
gate ``[N, C, 1, 1]`` reshaped to ``[N, C/b, 1, b]`` broadcasts onto it. A block that cannot be folded
(the reason is kept) gets :mod:`.rewrite`'s grouped scaling conv instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import onnx
from onnx import numpy_helper

from se_deploy.backends.onnxruntime.native.consumer_fold import consumer_plan, fold_into_consumer
from se_deploy.backends.onnxruntime.native.graph import FOLDED_CONV, GATE_WEIGHTS, Shape, attribute, is_op, label
from se_deploy.backends.onnxruntime.native.platform import NCHWC_DOMAIN
from se_deploy.backends.onnxruntime.native.rewrite import (
    BlockOutcome,
    BlockRewriter,
    NativeRewrite,
    block_pointwise_weight,
    unblock_pointwise_weight,
)

FOLD_TARGET = "conv3 (the SE input's 1x1 conv)"


@dataclass(frozen=True)
class FoldPlan:
    """What folding one SE block reads from ORT's graph."""

    conv3: onnx.NodeProto  # the nchwc 1x1 conv whose output is the SE input
    conv_in: str  # its (blocked) input x
    w3_blocked: np.ndarray  # ORT's OIHWBiBo weight [C, Cin, 1, 1]
    b3: np.ndarray | None  # [C], None when conv3 has no bias
    fc1: onnx.NodeProto  # the first FC (an nchwc 1x1 conv on the pooled vector)
    gate_source: str  # the gate's bytes as [N, C, 1, 1] (ORT's blocked gate or the plain one)


def _conv_weight(rewriter: BlockRewriter, conv: onnx.NodeProto) -> np.ndarray | None:
    name = conv.input[1] if len(conv.input) > 1 else ""
    init = rewriter.g.initializers.get(name)
    return None if init is None else numpy_helper.to_array(init).astype(np.float32)


def _conv_bias(rewriter: BlockRewriter, conv: onnx.NodeProto, out_c: int) -> np.ndarray | str | None:
    """The bias padded to ``out_c`` (None: no bias; 'dynamic': not a constant)."""
    if len(conv.input) < 3 or not conv.input[2]:
        return None
    init = rewriter.g.initializers.get(conv.input[2])
    if init is None:
        return "dynamic"
    values = numpy_helper.to_array(init).astype(np.float32).reshape(-1)
    padded = np.zeros(out_c, np.float32)
    padded[: values.size] = values
    return padded


def _linear_pointwise_reason(conv: onnx.NodeProto) -> str:
    """'' when ``conv`` is a 1x1, stride-1, unpadded, ungrouped nchwc conv with no fused activation or sum."""
    if attribute(conv, "activation") is not None:
        return "conv3 has a fused activation, so the gate cannot move inside it"
    if len(conv.input) > 3 and conv.input[3]:
        return "conv3 already has a fused sum"
    if list(attribute(conv, "kernel_shape", [])) != [1, 1]:
        return f"conv3 is not a 1x1 conv (kernel {list(attribute(conv, 'kernel_shape', []))})"
    if int(attribute(conv, "group", 1)) != 1:
        return "conv3 is a grouped conv"
    geometry = [*attribute(conv, "strides", [1, 1]), *attribute(conv, "dilations", [1, 1])]  # type: ignore[misc]
    if any(int(v) != 1 for v in geometry) or any(int(p) for p in attribute(conv, "pads", [0] * 4)):  # type: ignore[union-attr]
        return "conv3 has a stride, dilation or padding"
    if (attribute(conv, "auto_pad", b"NOTSET") or b"NOTSET") not in (b"NOTSET", b"VALID"):
        return "conv3 has auto padding"
    return ""


def fold_plan(
    rewriter: BlockRewriter,
    mul: onnx.NodeProto,
    x: str,
    squeeze: onnx.NodeProto,
    gate: str,
    shape: Shape,
    *,
    batched: bool,
) -> FoldPlan | str:
    """How to fold this block's gate into conv3, or why it cannot be done exactly (and profitably)."""
    n, c, h, w = shape
    g, b = rewriter.g, rewriter.block
    if n > 1 and not batched:
        return f"batch {n}: the folded weight would be per sample (folding is applied at batch 1)"
    xb = rewriter.blocked_source(x)
    conv3 = g.producer.get(xb) if xb else None
    if not is_op(conv3, "Conv", NCHWC_DOMAIN):
        return "the SE input is not the output of a blocked (NCHWc) conv in ORT's graph"
    assert conv3 is not None and xb is not None
    reason = _linear_pointwise_reason(conv3)
    if reason:
        return reason
    blocked_squeeze = rewriter.is_blocked_squeeze(squeeze, xb)  # ORT pools xb itself (GlobalAveragePool exports)
    reorder = g.producer[x]
    xb_readers = {id(u) for u in g.consumers.get(xb, [])}
    x_readers = {id(u) for u in g.consumers.get(x, [])}
    expected_xb = {id(reorder), id(squeeze)} if blocked_squeeze else {id(reorder)}
    expected_x = {id(mul)} if blocked_squeeze else {id(squeeze), id(mul)}
    if xb_readers != expected_xb or x_readers != expected_x or x in g.outputs:
        return "conv3's output is read by more than the SE block"
    w3 = _conv_weight(rewriter, conv3)
    if w3 is None or w3.ndim != 4 or w3.shape[0] != c:
        return "conv3's weight is not a constant [C, Cin, 1, 1] tensor"
    cin = w3.shape[1]
    if cin % b:
        return f"conv3 has Cin={cin} input channels, not a multiple of the NCHWc block size {b}"
    if cin >= h * w:
        return f"the weight is not smaller than the activation (Cin={cin} >= H*W={h * w})"
    b3 = _conv_bias(rewriter, conv3, c)
    if isinstance(b3, str):
        return "conv3's bias is not a constant"
    fc1 = _fc1_of(rewriter, squeeze, c)
    if isinstance(fc1, str):
        return fc1
    gate_source = rewriter.blocked_source(gate) or gate
    return FoldPlan(conv3, conv3.input[0], w3, b3, fc1, gate_source)


def _fc1_of(rewriter: BlockRewriter, squeeze: onnx.NodeProto, c: int) -> onnx.NodeProto | str:
    """FC1: the one nchwc 1x1 conv that reads the squeeze (through ORT's ReorderInput) and nothing else."""
    g = rewriter.g
    not_fc = "the squeeze does not feed one blocked 1x1 FC conv alone (FC1 cannot absorb conv3)"
    users = g.consumers.get(squeeze.output[0], [])
    if (
        len(users) == 1
        and is_op(users[0], "ReorderInput", NCHWC_DOMAIN)
        and not attribute(users[0], "channels_last", 0)
    ):
        pooled = users[0].output[0]
    elif squeeze.domain == NCHWC_DOMAIN:  # ORT's blocked squeeze: FC1 reads the pooled vector directly
        pooled = squeeze.output[0]
    else:
        return not_fc
    readers = g.consumers.get(pooled, [])
    if len(readers) != 1 or not is_op(readers[0], "Conv", NCHWC_DOMAIN) or readers[0].input[0] != pooled:
        return not_fc
    fc1 = readers[0]
    if list(attribute(fc1, "kernel_shape", [])) != [1, 1] or int(attribute(fc1, "group", 1)) != 1:
        return not_fc
    if len(fc1.input) > 3 and fc1.input[3]:
        return not_fc
    w1 = _conv_weight(rewriter, fc1)
    if w1 is None or w1.ndim != 4 or w1.shape[1] != c or w1.shape[0] % rewriter.block:
        return "FC1's weight is not a constant blocked [Cr, C, 1, 1] tensor"
    if isinstance(_conv_bias(rewriter, fc1, w1.shape[0]), str):
        return "FC1's bias is not a constant"
    return fc1


class _FoldingRewriter(BlockRewriter):
    def __init__(
        self, model: onnx.ModelProto, shapes: dict[str, Shape], block: int, *, hoist: bool, batched: bool
    ) -> None:
        super().__init__(model, shapes, block, hoist=hoist)
        self.batched = batched

    def rewrite_valid_block(
        self, mul: onnx.NodeProto, x: str, gate: str, squeeze: onnx.NodeProto, shape: Shape
    ) -> BlockOutcome:
        plan = fold_plan(self, mul, x, squeeze, gate, shape, batched=self.batched)
        if not isinstance(plan, str):
            return self.fold(mul, squeeze, shape, plan)
        consumer = consumer_plan(self, mul, shape)
        if shape[0] > 1 and not self.batched and not isinstance(consumer, str):
            consumer = f"batch {shape[0]}: the folded filter would be per sample (folding is applied at batch 1)"
        if not isinstance(consumer, str):
            return fold_into_consumer(self, mul, x, gate, squeeze, shape, consumer)
        rewritten = self.rewrite_block(mul, x, gate, squeeze, shape)
        return replace(rewritten, fold_reason=plan, consumer_fold_reason=consumer)

    def absorb_into_fc1(self, plan: FoldPlan, squeeze: onnx.NodeProto, w3: np.ndarray, b3: np.ndarray) -> None:
        """FC1 reads the pooled conv3 input: W1' = W1 W3, b1' = W1 b3 + b1 (in float64, stored float32)."""
        g, b = self.g, self.block
        w1_blocked = _conv_weight(self, plan.fc1)
        assert w1_blocked is not None
        w1 = unblock_pointwise_weight(w1_blocked, b).astype(np.float64)
        b1 = _conv_bias(self, plan.fc1, w1.shape[0])
        b1 = np.zeros(w1.shape[0]) if b1 is None else np.asarray(b1, np.float64)
        w1_new = (w1 @ w3).astype(np.float32)
        b1_new = (w1 @ b3 + b1).astype(np.float32)
        pooled = g.fresh("squeeze_in")
        g.add("GlobalAveragePool", [plan.conv_in], [pooled], domain=NCHWC_DOMAIN)
        fc1 = plan.fc1
        inputs = [pooled, g.const("fc1_w", block_pointwise_weight(w1_new, b)), g.const("fc1_b", b1_new)]
        del fc1.input[:]
        fc1.input.extend(inputs)
        g.remove(squeeze)

    def fold(self, mul: onnx.NodeProto, squeeze: onnx.NodeProto, shape: Shape, plan: FoldPlan) -> BlockOutcome:
        n, c, h, w = shape
        g, b = self.g, self.block
        cin = plan.w3_blocked.shape[1]
        w3 = unblock_pointwise_weight(plan.w3_blocked, b).astype(np.float64)
        b3 = np.zeros(c) if plan.b3 is None else plan.b3.astype(np.float64)
        self.absorb_into_fc1(plan, squeeze, w3, b3)
        add, residual, relu = self.residual_of(mul, shape)
        gate_bytes, scale = self.scaled_gate(plan.gate_source, mul, shape)
        last = relu or add or scale or mul

        # diag(s) W3 on ORT's blocked bytes: [1, C/b, Cin, b] * s[N, C/b, 1, b] -> [N*C, Cin, 1, 1]
        w3_view = g.const("conv3_w", plan.w3_blocked.reshape(1, c // b, cin, b))
        s_view, scaled, weight = g.fresh("gate_view"), g.fresh("scaled_w"), g.fresh("folded_w")
        g.add("Reshape", [gate_bytes, g.const("shape_gate", np.array([n, c // b, 1, b], np.int64))], [s_view])
        g.add("Mul", [w3_view, s_view], [scaled], role=GATE_WEIGHTS)
        g.add("Reshape", [scaled, g.const("shape_w", np.array([n * c, cin, 1, 1], np.int64))], [weight])
        inputs = [plan.conv_in if n == 1 else g.view(plan.conv_in, (1, n * cin, h, w)), weight]
        if plan.b3 is not None:
            s_flat, bias = g.fresh("gate_flat"), g.fresh("folded_b")
            g.add("Reshape", [gate_bytes, g.const("shape_vec", np.array([n * c], np.int64))], [s_flat])
            g.add("Mul", [s_flat, g.const("conv3_b", np.tile(plan.b3, n))], [bias], role=GATE_WEIGHTS)
            inputs.append(bias)
        attrs: dict[str, object] = {
            "kernel_shape": [1, 1],
            "strides": [1, 1],
            "pads": [0, 0, 0, 0],
            "dilations": [1, 1],
            "group": n,
        }
        if add is not None and residual is not None:
            rb = self.blocked_residual(residual)
            inputs += [""] * (3 - len(inputs)) + [rb if n == 1 else g.view(rb, (1, n * c, h, w))]
            if relu is not None:
                attrs["activation"] = "Relu"
        z = g.fresh("z")
        g.add("Conv", inputs, [z], domain=NCHWC_DOMAIN, role=FOLDED_CONV, **attrs)
        zb = z if n == 1 else g.view(z, shape)
        g.remove(plan.conv3)
        self.replace_block_output(last.output[0], zb, c, (mul, scale, add, relu))
        return BlockOutcome(
            label(mul),
            c,
            True,
            residual=add is not None,
            residual_scale=scale is not None,
            hoisted=True,
            folded=True,
            fold_target=FOLD_TARGET,
        )


def rewrite_native_folded(
    optimized: onnx.ModelProto,
    shapes: dict[str, Shape],
    block: int,
    *,
    hoist: bool = False,
    fold: bool = True,
    fold_batched: bool = False,
) -> NativeRewrite:
    """:func:`.rewrite.rewrite_native`, with the gate folded into conv3 where exact and profitable.

    ``fold_batched``: fold at batch > 1 too (one ``group=N`` conv with per-sample weights).
    """
    model = onnx.ModelProto()
    model.CopyFrom(optimized)
    if not fold:
        return BlockRewriter(model, shapes, block, hoist=hoist).run()
    return _FoldingRewriter(model, shapes, block, hoist=hoist, batched=fold_batched).run()
