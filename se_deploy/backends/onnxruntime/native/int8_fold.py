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

    def pointwise(self, conv: onnx.NodeProto | None) -> str | None:
        """Why ``conv`` is not a channels-last 1x1, stride-1, ungrouped QLinearConv with constant weights."""
        if not is_op(conv, "QLinearConv", MS):
            return "the SE input is not a QLinearConv"
        assert conv is not None
        weight = self.array(conv.input[3])
        if weight is None or weight.ndim != 4 or weight.shape[2:] != (1, 1):
            return "the SE input's conv is not a 1x1 conv with constant weights"
        if attribute(conv, "channels_last", 0) != 1 or attribute(conv, "group", 1) != 1:
            return "the SE input's conv is grouped or not channels-last"
        if any(s != 1 for s in attribute(conv, "strides", [1, 1])) or any(attribute(conv, "pads", [0, 0, 0, 0])):
            return "the SE input's conv has a stride or padding"
        if any(self.array(name) is None for name in conv.input[1:3] + conv.input[4:8]):
            return "the SE input's conv has run-time scales"
        return None

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
        fc1s = self.g.consumers.get(squeeze.output[0], [])
        if reason is None and len(self.g.consumers.get(x, [])) != 2:
            reason = "the SE input feeds more than its squeeze and scale"
        elif reason is None and (len(fc1s) != 1 or self.pointwise(fc1s[0]) is not None):
            reason = "the squeeze does not feed one 1x1 QLinearConv (FC1)"
        elif reason is None and attribute(squeeze, "channels_last", 0) != 1:
            reason = "the squeeze is not channels-last"
        elif reason is None and (mul.input[x_at + 1], mul.input[x_at + 2]) != (conv3.input[6], conv3.input[7]):
            reason = "the scale reads the SE input at another quantization than conv3 writes it"
        if reason:
            return QuantizedBlock(label(mul), False, reason)
        assert conv3 is not None
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
        g, a = self.g, self.array
        x_scale = float(a(conv3.input[1]))  # type: ignore[arg-type]
        w3 = _dequantize(a(conv3.input[3]), a(conv3.input[4]), a(conv3.input[5]))[:, :, 0, 0]
        b3 = np.zeros(w3.shape[0])
        if len(conv3.input) > 8 and conv3.input[8]:
            b3 = a(conv3.input[8]).astype(np.float64) * x_scale * np.broadcast_to(a(conv3.input[4]), b3.shape)
        w1q = a(fc1.input[3])
        assert w1q is not None
        w1 = _dequantize(w1q, a(fc1.input[4]), a(fc1.input[5]))[:, :, 0, 0]
        b1 = np.zeros(w1.shape[0])
        if len(fc1.input) > 8 and fc1.input[8]:
            squeeze_scale = float(a(fc1.input[1]))  # type: ignore[arg-type]
            b1 = a(fc1.input[8]).astype(np.float64) * squeeze_scale * np.broadcast_to(a(fc1.input[4]), b1.shape)
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


def _dequantize(q: np.ndarray | None, scale: np.ndarray | None, zero: np.ndarray | None) -> np.ndarray:
    assert q is not None and scale is not None
    shape = (-1,) + (1,) * (q.ndim - 1)
    zero_point = np.zeros(1) if zero is None else np.asarray(zero, np.float64).reshape(-1)
    return (q.astype(np.float64) - zero_point.reshape(shape if zero_point.size > 1 else ())) * np.asarray(
        scale, np.float64
    ).reshape(shape if np.size(scale) > 1 else ())


def fold_quantized_gates(optimized: onnx.ModelProto) -> QuantizedFold:
    """ORT's optimized INT8 graph at batch 1, each foldable SE scale folded into its conv3 (a pure function)."""
    model = onnx.ModelProto()
    model.CopyFrom(optimized)
    return _Folder(model).run()
