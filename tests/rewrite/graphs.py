"""Hand-built ONNX graphs of one SE block, with knobs to break each check the matcher makes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

C, CR, H, W = 8, 2, 5, 5


@dataclass
class SEGraph:
    """Defaults build a valid SE: X -> GAP -> Conv1x1 -> Relu -> Conv1x1 -> Sigmoid -> Mul(X, gate)."""

    channels: int = C
    reduced: int = CR
    dtype: int = TensorProto.FLOAT
    opset: int = 17
    pool: str = "GlobalAveragePool"  # or "ReduceMean"
    reduce_axes: tuple[int, ...] = (2, 3)
    keepdims: int = 1
    fc: str = "conv"  # "conv" | "gemm" | "matmul"
    fc1_kernel: int = 1
    fc1_group: int = 1
    fc1_pads: tuple[int, ...] = (0, 0, 0, 0)
    fc1_weight_is_input: bool = False
    bias: bool = True
    activation: str = "Relu"  # an op type, or "SiLU" written out
    gate: str = "Sigmoid"  # an op type, "relu6_div", or "clip01"
    hard_sigmoid_alpha: float = 1.0 / 6.0
    clip_high: float = 6.0
    back_shape: tuple[int, ...] = (-1, C, 1, 1)  # Reshape target after Gemm/MatMul FCs
    spatial: int = H
    mul_other: str = "X"  # the tensor the gate multiplies
    mul_gate_first: bool = False
    extra_reader_of_hidden: bool = False
    residual: bool = False
    residual_relu: bool = True
    seed: int = 0
    extra_outputs: list[str] = field(default_factory=list)

    def build(self) -> onnx.ModelProto:
        rng = np.random.default_rng(self.seed)
        np_type = helper.tensor_dtype_to_np_dtype(self.dtype)
        c, cr = self.channels, self.reduced
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = []
        hw = self.spatial
        inputs = [helper.make_tensor_value_info("X", self.dtype, ["N", c, hw, hw])]

        def const(name: str, value: np.ndarray) -> str:
            inits.append(numpy_helper.from_array(np.asarray(value), name))
            return name

        if self.pool == "GlobalAveragePool":
            nodes.append(helper.make_node("GlobalAveragePool", ["X"], ["s"]))
        elif self.opset >= 18:
            axes = const("axes", np.array(self.reduce_axes, dtype=np.int64))
            nodes.append(helper.make_node("ReduceMean", ["X", axes], ["s"], keepdims=self.keepdims))
        else:
            nodes.append(
                helper.make_node("ReduceMean", ["X"], ["s"], axes=list(self.reduce_axes), keepdims=self.keepdims)
            )
        squeezed = "s"
        four_d = self.pool == "GlobalAveragePool" or self.keepdims == 1
        if self.fc != "conv" and four_d:
            nodes.append(helper.make_node("Flatten", ["s"], ["s2"], axis=1))
            squeezed = "s2"

        w1 = (rng.standard_normal((cr, c, self.fc1_kernel, self.fc1_kernel)) * 0.5).astype(np_type)
        w2 = (rng.standard_normal((c, cr)) * 0.5).astype(np_type)
        b1 = (rng.standard_normal(cr) * 0.1).astype(np_type)
        b2 = (rng.standard_normal(c) * 0.1).astype(np_type)
        hidden = self._fc(
            nodes, const, inputs, squeezed, "fc1", w1 if self.fc == "conv" else w1[:, :, 0, 0], b1, first=True
        )
        act = self._activation(nodes, hidden)
        excite = self._fc(
            nodes, const, inputs, act, "fc2", w2[:, :, None, None] if self.fc == "conv" else w2, b2, first=False
        )
        if self.fc != "conv":
            shape = const("back_shape", np.array(self.back_shape, dtype=np.int64))
            nodes.append(helper.make_node("Reshape", [excite, shape], ["e4"]))
            excite = "e4"
        gate = self._gate(nodes, const, excite, np_type)
        operands = [gate, self.mul_other] if self.mul_gate_first else [self.mul_other, gate]
        nodes.append(helper.make_node("Mul", operands, ["Y"]))
        output = "Y"
        if self.mul_other != "X":
            inputs.append(helper.make_tensor_value_info(self.mul_other, self.dtype, ["N", c, hw, hw]))
        if self.residual:
            inputs.append(helper.make_tensor_value_info("R", self.dtype, ["N", c, hw, hw]))
            nodes.append(helper.make_node("Add", ["Y", "R"], ["Z"]))
            output = "Z"
            if self.residual_relu:
                nodes.append(helper.make_node("Relu", ["Z"], ["Out"]))
                output = "Out"
        outputs = [helper.make_tensor_value_info(output, self.dtype, ["N", c, hw, hw])]
        if self.extra_reader_of_hidden:
            nodes.append(helper.make_node("Identity", [hidden], ["hidden_copy"]))
            outputs.append(helper.make_tensor_value_info("hidden_copy", self.dtype, None))  # left unshaped on purpose
        graph = helper.make_graph(nodes, "se", inputs, outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        return model

    def _fc(self, nodes, const, inputs, x: str, name: str, weight: np.ndarray, bias: np.ndarray, *, first: bool) -> str:  # type: ignore[no-untyped-def]
        out = f"{name}_out"
        if self.fc == "conv":
            if first and self.fc1_weight_is_input:
                inputs.append(helper.make_tensor_value_info("W1_runtime", self.dtype, list(weight.shape)))
                w = "W1_runtime"
            else:
                w = const(f"{name}_w", weight)
            args = [x, w] + ([const(f"{name}_b", bias)] if self.bias else [])
            attrs = {"group": self.fc1_group, "pads": list(self.fc1_pads)} if first else {}
            if first and self.fc1_kernel != 1:
                attrs["pads"] = [self.fc1_kernel // 2] * 4
            nodes.append(helper.make_node("Conv", args, [out], **attrs))
        elif self.fc == "gemm":
            args = [x, const(f"{name}_w", weight)] + ([const(f"{name}_b", bias)] if self.bias else [])
            nodes.append(helper.make_node("Gemm", args, [out], transB=1))
        else:
            nodes.append(
                helper.make_node("MatMul", [x, const(f"{name}_w", np.ascontiguousarray(weight.T))], [f"{name}_mm"])
            )
            if self.bias:
                nodes.append(helper.make_node("Add", [f"{name}_mm", const(f"{name}_b", bias)], [out]))
            else:
                out = f"{name}_mm"
        return out

    def _activation(self, nodes, hidden: str) -> str:  # type: ignore[no-untyped-def]
        if self.activation == "SiLU":
            nodes.append(helper.make_node("Sigmoid", [hidden], ["h_sig"]))
            nodes.append(helper.make_node("Mul", ["h_sig", hidden], ["act"]))
        else:
            nodes.append(helper.make_node(self.activation, [hidden], ["act"]))
        return "act"

    def _gate(self, nodes, const, excite: str, np_type) -> str:  # type: ignore[no-untyped-def]
        if self.gate == "HardSigmoid":
            nodes.append(helper.make_node("HardSigmoid", [excite], ["gate"], alpha=self.hard_sigmoid_alpha, beta=0.5))
        elif self.gate == "relu6_div":
            three = const("three", np.array(3.0, dtype=np_type))
            low, high = (
                const("zero", np.array(0.0, dtype=np_type)),
                const("six", np.array(self.clip_high, dtype=np_type)),
            )
            nodes.append(helper.make_node("Add", [three, excite], ["g1"]))
            nodes.append(helper.make_node("Clip", ["g1", low, high], ["g2"]))
            nodes.append(helper.make_node("Div", ["g2", const("six_div", np.array(6.0, dtype=np_type))], ["gate"]))
        elif self.gate == "clip01":
            nodes.append(helper.make_node("Mul", [excite, const("sixth", np.array(1 / 6, dtype=np_type))], ["g1"]))
            nodes.append(helper.make_node("Add", ["g1", const("half", np.array(0.5, dtype=np_type))], ["g2"]))
            low, high = const("zero", np.array(0.0, dtype=np_type)), const("one", np.array(1.0, dtype=np_type))
            nodes.append(helper.make_node("Clip", ["g2", low, high], ["gate"]))
        else:
            nodes.append(helper.make_node(self.gate, [excite], ["gate"]))
        return "gate"
