"""INT8 gate folding at batch 1: the SE gate rides in conv3's requantization scale; no SE scale pass is left.

ONNX Runtime runs an INT8 SE block, channels-last, as::

    x3 = QLinearConv(x; W3)                      conv3, the SE input (a linear 1x1 conv)
    g  = QLinearSigmoid(FC2(FC1(QLinearGlobalAveragePool(x3))))
    y  = QLinearMul(x3, g)                        the SE scale: a pass over x3 on one thread

A ``QLinearConv`` requantizes each output channel ``c`` by ``x_scale * w_scale[c] / y_scale``, and takes
``w_scale`` at run time. With the squeeze hoisted above conv3 (``mean_hw(W3 x + b3) = W3 mean_hw(x) + b3``:
FC1 absorbs W3, ``W1' = W1 W3``, ``b1' = W1 b3 + b1``, requantized per channel like the build's other
weights), the gate is known before conv3 runs, and conv3 with ``w_scale[c] * g[c]`` and the scale's output
quantization writes ``y`` itself: ``g * (W3 x + b3)``, its int32 bias scaled by the same factor. At batch 1
only (the gate is per sample, ``w_scale`` per channel). Exact in real numbers; in INT8 the squeeze now
averages conv3's input (its own quantization) and conv3's output is rounded once instead of twice, so the
build verifies the result against stock ONNX Runtime with an INT8 tolerance. A block that does not have
this shape keeps its ``QLinearMul``, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from se_deploy.backends.onnxruntime.native.graph import (
    FOLDED_CONV,
    GATE_WEIGHTS,
    EditableGraph,
    attribute,
    is_op,
    label,
)

MS = "com.microsoft"
FOLD_TARGET = "conv3's requantization scale (INT8)"
_GATE_ACTIVATIONS = {"QLinearSigmoid", "QLinearLeakyRelu"}  # between FC1 and the gate, beside FC2 (a QLinearConv)
_MAX_EXCITATION_STEPS = 6


@dataclass(frozen=True)
class QuantizedBlock:
    mul: str  # the SE scale's QLinearMul (its ORT name: the float Mul's)
    folded: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QuantizedFold:
    model: onnx.ModelProto
    blocks: list[QuantizedBlock]

    @property
    def folded(self) -> int:
        return sum(b.folded for b in self.blocks)


class _Folder:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.g = EditableGraph(model.graph)

    def array(self, name: str) -> np.ndarray | None:
        init = self.g.initializers.get(name)
        return None if init is None else numpy_helper.to_array(init)

    def const(self, name: str) -> np.ndarray:
        """An initializer the checks above required (``pointwise``)."""
        value = self.array(name)
        if value is None:
            raise ValueError(f"{name!r} is not a constant")  # a bug: pointwise() checks every input read here
        return value

    def weight(self, conv: onnx.NodeProto) -> np.ndarray:
        return self.const(conv.input[3])

    def pointwise(self, conv: onnx.NodeProto | None) -> str | None:
        """Why ``conv`` is not a channels-last 1x1, stride-1, ungrouped QLinearConv with constant weights."""
        if conv is None or not is_op(conv, "QLinearConv", MS):
            return "the SE input is not a QLinearConv"
        weight = self.array(conv.input[3])
        if weight is None or weight.ndim != 4 or weight.shape[2:] != (1, 1):
            return "the SE input's conv is not a 1x1 conv with constant weights"
        if attribute(conv, "channels_last", 0) != 1 or attribute(conv, "group", 1) != 1:
            return "the SE input's conv is grouped or not channels-last"
        if any(s != 1 for s in attribute(conv, "strides", [1, 1])) or any(attribute(conv, "pads", [0, 0, 0, 0])):
            return "the SE input's conv has a stride or padding"
        if any(self.array(name) is None for name in conv.input[1:3] + conv.input[4:8]):
            return "the SE input's conv has run-time scales"
        zero = self.array(conv.input[5])
        if weight.dtype != np.int8 or zero is None or np.any(zero != 0):
            return "the SE input's conv weights are not symmetric int8"
        return None

    def one_sided(self, conv: onnx.NodeProto) -> bool:
        """The conv's output zero point is its type's minimum: a ReLU may be folded into its range (clip >= 0)."""
        zero = self.array(conv.input[7])
        return zero is not None and zero.size == 1 and int(zero.reshape(-1)[0]) == int(np.iinfo(zero.dtype).min)

    def gate_from(self, gate: str, fc1: onnx.NodeProto, channels: int) -> bool:
        """``gate`` is computed from ``fc1`` alone, through a conv back to ``channels`` (FC2) and activations."""
        name, steps, widened = gate, 0, False
        while steps < _MAX_EXCITATION_STEPS:
            node = self.g.producer.get(name)
            if node is None:
                return False
            if node is fc1:
                return widened
            if is_op(node, "QLinearConv", MS):
                weight = self.array(node.input[3])
                widened = widened or (weight is not None and weight.shape[0] == channels)
            elif not (node.domain == MS and node.op_type in _GATE_ACTIVATIONS):
                return False
            name, steps = node.input[0], steps + 1
        return False

    def block(self, mul: onnx.NodeProto) -> QuantizedBlock:
        for x_at, gate_at in ((0, 3), (3, 0)):
            x, gate = mul.input[x_at], mul.input[gate_at]
            squeezes = [c for c in self.g.consumers.get(x, []) if is_op(c, "QLinearGlobalAveragePool", MS)]
            if squeezes and self.g.producer.get(gate) is not None:
                return self.fold(mul, x, gate, x_at, gate_at, squeezes[0])
        return QuantizedBlock(
            label(mul),
            False,
            "no squeeze reads the scale's input (not an SE scale, or ORT changed its layout in between)",
        )

    def fold(
        self, mul: onnx.NodeProto, x: str, gate: str, x_at: int, gate_at: int, squeeze: onnx.NodeProto
    ) -> QuantizedBlock:
        conv3 = self.g.producer.get(x)
        reason = self.pointwise(conv3)
        if reason or conv3 is None:
            return QuantizedBlock(label(mul), False, reason or "the SE input has no producer")
        fc1s = self.g.consumers.get(squeeze.output[0], [])
        if len(self.g.consumers.get(x, [])) != 2:
            reason = "the SE input feeds more than its squeeze and scale"
        elif len(fc1s) != 1 or self.pointwise(fc1s[0]) is not None:
            reason = "the squeeze does not feed one 1x1 QLinearConv (FC1)"
        elif attribute(squeeze, "channels_last", 0) != 1:
            reason = "the squeeze is not channels-last"
        elif (mul.input[x_at + 1], mul.input[x_at + 2]) != (conv3.input[6], conv3.input[7]):
            reason = "the scale reads the SE input at another quantization than conv3 writes it"
        elif self.one_sided(conv3):
            reason = "conv3's output range is one-sided (a ReLU folded into it?): the squeeze cannot be hoisted"
        elif not self.gate_from(gate, fc1s[0], self.weight(conv3).shape[0]):
            reason = "the gate is not computed from FC1 through FC2 (to conv3's channels) and activations"
        if reason:
            return QuantizedBlock(label(mul), False, reason)
        self.hoist_squeeze(conv3, squeeze, fc1s[0])
        g = self.g
        gate_float = g.fresh("gate")
        g.add(
            "DequantizeLinear", [gate, mul.input[gate_at + 1], mul.input[gate_at + 2]], [gate_float], role=GATE_WEIGHTS
        )
        flat = g.fresh("gate_flat")
        g.add("Reshape", [gate_float, g.const("shape_flat", np.array([-1], np.int64))], [flat])
        w_scale = g.fresh("gated_w_scale")
        g.add("Mul", [flat, conv3.input[4]], [w_scale], role=GATE_WEIGHTS)
        conv3.input[4] = w_scale
        conv3.input[6], conv3.input[7] = mul.input[6], mul.input[7]  # write y at the scale's quantization
        conv3.output[0] = mul.output[0]
        conv3.name = g.fresh(FOLDED_CONV)
        g.remove(mul)
        g.remove(squeeze)
        g.reindex()
        return QuantizedBlock(label(mul), True)

    def hoist_squeeze(self, conv3: onnx.NodeProto, squeeze: onnx.NodeProto, fc1: onnx.NodeProto) -> None:
        """FC1 reads the mean of conv3's input: ``W1' = W1 W3``, ``b1' = W1 b3 + b1``, requantized."""
        g, c = self.g, self.const
        x_scale = float(c(conv3.input[1]))
        w3 = _dequantize(c(conv3.input[3]), c(conv3.input[4]))[:, :, 0, 0]
        b3 = np.zeros(w3.shape[0])
        if len(conv3.input) > 8 and conv3.input[8]:
            b3 = c(conv3.input[8]).astype(np.float64) * x_scale * np.broadcast_to(c(conv3.input[4]), b3.shape)
        w1q = c(fc1.input[3])
        w1 = _dequantize(w1q, c(fc1.input[4]))[:, :, 0, 0]
        b1 = np.zeros(w1.shape[0])
        if len(fc1.input) > 8 and fc1.input[8]:
            squeeze_scale = float(c(fc1.input[1]))
            b1 = c(fc1.input[8]).astype(np.float64) * squeeze_scale * np.broadcast_to(c(fc1.input[4]), b1.shape)
        fused_w, fused_b = w1 @ w3, w1 @ b3 + b1
        qmax = int(np.abs(w1q.astype(np.int32)).max()) or 127  # the build's weight range (7-bit preset: 63)
        scale = np.abs(fused_w).max(axis=1) / qmax
        scale[scale == 0] = 1.0
        weight_q = np.clip(np.rint(fused_w / scale[:, None]), -qmax, qmax).astype(np.int8)[:, :, None, None]
        bias_q = np.rint(fused_b / (x_scale * scale)).astype(np.int32)
        pooled = g.fresh("squeeze_hoisted")
        x_in, xs, xz = conv3.input[0], conv3.input[1], conv3.input[2]
        g.add("QLinearGlobalAveragePool", [x_in, xs, xz, xs, xz], [pooled], domain=MS, role="Squeeze", channels_last=1)
        inputs = [pooled, xs, xz, g.const("fc1_weight", weight_q), g.const("fc1_w_scale", scale.astype(np.float32))]
        inputs += [g.const("fc1_w_zero", np.zeros(len(scale), np.int8)), fc1.input[6], fc1.input[7]]
        inputs += [g.const("fc1_bias", bias_q)]
        del fc1.input[:]
        fc1.input.extend(inputs)

    def run(self) -> QuantizedFold:
        blocks = [self.block(n) for n in self.g.nodes() if is_op(n, "QLinearMul", MS)]
        self.g.finish()
        return QuantizedFold(self.model, blocks)


def _dequantize(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Symmetric int8 weights (zero point 0, checked by ``pointwise``), scale per tensor or per output channel."""
    scale = np.asarray(scale, np.float64)
    return q.astype(np.float64) * (scale.reshape((-1,) + (1,) * (q.ndim - 1)) if scale.size > 1 else scale)


def fold_quantized_gates(optimized: onnx.ModelProto) -> QuantizedFold:
    """ORT's optimized INT8 graph at batch 1, each foldable SE scale folded into its conv3 (a pure function)."""
    model = onnx.ModelProto()
    model.CopyFrom(optimized)
    return _Folder(model).run()
