"""Hand-built graphs in the node patterns other exporters write (Paddle2ONNX, tf2onnx, FP16 converters).

Each knob reproduces one spelling seen in the wild; the defaults write Paddle2ONNX's SE of PP-LCNet /
PP-OCR MobileNetV3: ``GlobalAveragePool -> Conv(no bias) -> Add(bias) -> Relu -> Conv(no bias) ->
Add(bias) -> HardSigmoid(0.2, 0.5) -> Mul``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

C, CR = 8, 2


@dataclass
class ForeignSE:
    opset: int = 13
    bias_shape: str = "1c11"  # "1c11" | "c11" | "reshape" (Reshape(init [C], const shape)) | "conv" | "c"
    identities: bool = False  # Identity after the squeeze, after each FC and after the gate
    dropout: bool = False  # inference Dropout after the activation
    noop_cast: bool = False  # Cast(to=FLOAT) of a float tensor after FC1
    squeeze_pair: bool = False  # Squeeze(axes 2,3) -> Unsqueeze(axes 2,3) after the pool
    scale_mul: bool = False  # a per-channel Mul after FC2's bias (a folded BN written separately)
    gate: str = "paddle_hardsigmoid"  # | "hardsigmoid_1_6" | "clip" (Clip(x + 3, 0, 6) / 6) | "sigmoid"
    head: bool = False  # a MobileNetV3 classifier head: GAP -> Conv -> HardSwish -> Mul(constant)
    shuffle: bool = False  # write the nodes in reverse order (not topologically sorted)
    spatial: tuple[int, int] = (6, 10)
    seed: int = 0

    def build(self) -> onnx.ModelProto:
        rng = np.random.default_rng(self.seed)
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        counter = iter(range(1000))

        def const(value: np.ndarray, stem: str = "c") -> str:
            name = f"{stem}_{next(counter)}"
            inits.append(numpy_helper.from_array(np.asarray(value), name))
            return name

        def node(op: str, inputs: list[str], **attrs: object) -> str:
            out = f"{op.lower()}_{next(counter)}"
            nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
            return out

        def maybe_identity(value: str) -> str:
            return node("Identity", [value]) if self.identities else value

        def axes_args(value: str, axes: list[int]) -> tuple[list[str], dict[str, object]]:
            if self.opset >= 13:
                return [value, const(np.array(axes, dtype=np.int64), "axes")], {}
            return [value], {"axes": axes}

        def fc(value: str, out_c: int, in_c: int) -> str:
            weight = (rng.standard_normal((out_c, in_c, 1, 1)) * 0.5).astype(np.float32)
            bias = (rng.standard_normal(out_c) * 0.3).astype(np.float32)
            if self.bias_shape == "conv":
                return node("Conv", [value, const(weight, "w"), const(bias, "b")])
            out = node("Conv", [value, const(weight, "w")])
            out = maybe_identity(out)
            if self.bias_shape == "1c11":
                b = const(bias.reshape(1, out_c, 1, 1), "b")
            elif self.bias_shape == "c11":
                b = const(bias.reshape(out_c, 1, 1), "b")
            elif self.bias_shape == "c":
                b = const(bias, "b")
            else:
                b = node("Reshape", [const(bias, "b"), const(np.array([1, out_c, 1, 1], dtype=np.int64), "shape")])
            return node("Add", [b, out] if self.bias_shape == "c11" else [out, b])

        h, w = self.spatial
        x = "X"
        stem = (rng.standard_normal((C, 3, 3, 3)) * 0.3).astype(np.float32)
        feature = node("Conv", [x, const(stem, "stem")], pads=[1, 1, 1, 1])
        feature = node("Relu", [feature])
        pooled = maybe_identity(node("GlobalAveragePool", [feature]))
        if self.squeeze_pair:
            args, attrs = axes_args(pooled, [2, 3])
            squeezed = node("Squeeze", args, **attrs)
            args, attrs = axes_args(squeezed, [2, 3])
            pooled = node("Unsqueeze", args, **attrs)
        hidden = fc(pooled, CR, C)
        if self.noop_cast:
            hidden = node("Cast", [hidden], to=TensorProto.FLOAT)
        hidden = node("Relu", [hidden])
        if self.dropout:
            hidden = node("Dropout", [hidden])
        excited = maybe_identity(fc(hidden, C, CR))
        if self.scale_mul:
            excited = node("Mul", [excited, const((rng.uniform(0.5, 1.5, (1, C, 1, 1))).astype(np.float32), "s")])
        if self.gate == "paddle_hardsigmoid":
            gate = node("HardSigmoid", [excited], alpha=0.2, beta=0.5)
        elif self.gate == "hardsigmoid_1_6":
            gate = node("HardSigmoid", [excited], alpha=1.0 / 6.0, beta=0.5)
        elif self.gate == "sigmoid":
            gate = node("Sigmoid", [excited])
        else:
            shifted = node("Add", [excited, const(np.array(3.0, dtype=np.float32))])
            if self.opset >= 11:
                low, high = const(np.array(0.0, dtype=np.float32)), const(np.array(6.0, dtype=np.float32))
                clipped = node("Clip", [shifted, low, high])
            else:
                clipped = node("Clip", [shifted], min=0.0, max=6.0)
            gate = node("Div", [clipped, const(np.array(6.0, dtype=np.float32))])
        gate = maybe_identity(gate)
        y = node("Mul", [feature, gate])
        outputs = [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, C, h, w])]
        if self.head:
            pooled = node("GlobalAveragePool", [y])
            weight = (rng.standard_normal((16, C, 1, 1)) * 0.3).astype(np.float32)
            hidden = node("Conv", [pooled, const(weight, "head_w")])
            hidden = node("HardSwish", [hidden]) if self.opset >= 14 else node("Relu", [hidden])
            logits = node("Mul", [hidden, const(np.array(0.5, dtype=np.float32))])
            outputs.append(helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, 16, 1, 1]))
        if self.shuffle:
            nodes.reverse()
        graph = helper.make_graph(
            nodes, "foreign_se", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, h, w])], outputs, inits
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 10 if self.opset >= 21 else 8
        return model
