"""Hand-written graphs in the shape ORT's NCHWc optimizer leaves an SE block, for any block size.

ORT only executes NCHWc graphs of its own CPU's block size, so these graphs are for the rewrite's
structure (a pure function of graph + block size), not for running.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NCHWC = "com.microsoft.nchwc"


def optimized_se_graph(
    n: int,
    c: int,
    hw: int,
    block: int,
    *,
    residual: bool = True,
    blocked_squeeze: bool = False,
    expand: bool = False,
    residual_scale: float | None = None,
) -> tuple[onnx.ModelProto, dict]:
    """x -> nchwc Conv1x1 (linear) -> ReorderOutput -> SE (ReduceMean, FCs) -> Mul [-> Add(r) -> Relu] -> ReorderInput.

    ``blocked_squeeze``: the squeeze as ORT writes a GlobalAveragePool export's, an nchwc GlobalAveragePool on
    the blocked tensor feeding FC1 directly. ``expand``: the gate Expanded to X's shape before the Mul.
    ``residual_scale``: the SE output times that constant before the residual Add (Inception-ResNet).
    """
    rng = np.random.default_rng(0)
    cp = -(-c // block) * block  # ORT pads blocked weights to the block size
    inits = [
        numpy_helper.from_array(rng.standard_normal((cp, cp, 1, 1)).astype(np.float32), "w3"),
        numpy_helper.from_array(rng.standard_normal(cp).astype(np.float32), "b3"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(rng.standard_normal((block, cp, 1, 1)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((cp, block, 1, 1)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("ReorderInput", ["x"], ["xin_b"], domain=NCHWC, channels_last=0),
        helper.make_node("Conv", ["xin_b", "w3", "b3"], ["xb"], domain=NCHWC, kernel_shape=[1, 1], group=1),
        helper.make_node("ReorderOutput", ["xb"], ["X"], domain=NCHWC, channels=c, channels_last=0),
    ]
    if blocked_squeeze:
        nodes.append(helper.make_node("GlobalAveragePool", ["xb"], ["mean_b"], domain=NCHWC))
    else:
        nodes += [
            helper.make_node("ReduceMean", ["X", "axes"], ["mean"], keepdims=1),
            helper.make_node("ReorderInput", ["mean"], ["mean_b"], domain=NCHWC, channels_last=0),
        ]
    nodes += [
        helper.make_node("Conv", ["mean_b", "w1"], ["h_b"], domain=NCHWC, kernel_shape=[1, 1], activation="Relu"),
        helper.make_node("Conv", ["h_b", "w2"], ["g_b"], domain=NCHWC, kernel_shape=[1, 1], activation="Sigmoid"),
        helper.make_node("ReorderOutput", ["g_b"], ["gate"], domain=NCHWC, channels=c, channels_last=0),
    ]
    gate = "gate"
    if expand:
        inits.append(numpy_helper.from_array(np.array([n, c, hw, hw], np.int64), "x_shape"))
        nodes.append(helper.make_node("Expand", ["gate", "x_shape"], ["gate_full"]))
        gate = "gate_full"
    nodes.append(helper.make_node("Mul", ["X", gate], ["scaled"]))
    last = "scaled"
    if residual_scale is not None:
        inits.append(numpy_helper.from_array(np.array(residual_scale, np.float32), "k"))
        nodes.append(helper.make_node("Mul", ["scaled", "k"], ["scaled_k"]))
        last = "scaled_k"
    if residual:
        nodes += [
            helper.make_node("ReorderInput", ["r"], ["r_b"], domain=NCHWC, channels_last=0),
            helper.make_node("ReorderOutput", ["r_b"], ["R"], domain=NCHWC, channels=c, channels_last=0),
            helper.make_node("Add", [last, "R"], ["sum"]),
            helper.make_node("Relu", ["sum"], ["y"]),
        ]
        last = "y"
    nodes += [
        helper.make_node("ReorderInput", [last], ["y_b"], domain=NCHWC, channels_last=0),
        helper.make_node("ReorderOutput", ["y_b"], ["out"], domain=NCHWC, channels=c, channels_last=0),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, hw, hw])]
    if residual:
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [n, c, hw, hw]))
    graph = helper.make_graph(
        nodes, "se", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, [n, c, hw, hw])], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(NCHWC, 1)])
    plain = (n, c, hw, hw)
    shapes = {name: plain for name in ("x", "r", "X", "R", "scaled", "sum", "y", "out")}
    shapes |= {"mean": (n, c, 1, 1), "gate": (n, c, 1, 1), "gate_full": plain, "scaled": plain, "scaled_k": plain}
    return model, shapes


def _excitation_of_x(c: int) -> list[onnx.NodeProto]:
    """X -> ReduceMean -> ORT's blocked FC convs -> gate; y = X * gate, reordered to y_b (no residual)."""
    return [
        helper.make_node("ReduceMean", ["X", "axes"], ["mean"], keepdims=1),
        helper.make_node("ReorderInput", ["mean"], ["mean_b"], domain=NCHWC, channels_last=0),
        helper.make_node("Conv", ["mean_b", "w1"], ["h_b"], domain=NCHWC, kernel_shape=[1, 1], activation="Relu"),
        helper.make_node("Conv", ["h_b", "w2"], ["g_b"], domain=NCHWC, kernel_shape=[1, 1], activation="Sigmoid"),
        helper.make_node("ReorderOutput", ["g_b"], ["gate"], domain=NCHWC, channels=c, channels_last=0),
        helper.make_node("Mul", ["X", "gate"], ["y"]),
        helper.make_node("ReorderInput", ["y"], ["y_b"], domain=NCHWC, channels_last=0),
    ]


def optimized_concat_se_graph(n: int, parts: tuple[int, ...], hw: int, block: int) -> tuple[onnx.ModelProto, dict]:
    """Blocked branches -> ReorderOutput each -> Concat(axis=1) -> SE (no residual) -> ReorderInput: an Inception module."""
    rng = np.random.default_rng(0)
    c = sum(parts)
    cp = -(-c // block) * block
    inits = [
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(rng.standard_normal((block, cp, 1, 1)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((cp, block, 1, 1)).astype(np.float32), "w2"),
    ]
    nodes, inputs = [], []
    for i, channels in enumerate(parts):
        inputs.append(helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [n, channels, hw, hw]))
        nodes += [
            helper.make_node("ReorderInput", [f"x{i}"], [f"b{i}"], domain=NCHWC, channels_last=0),
            helper.make_node("ReorderOutput", [f"b{i}"], [f"P{i}"], domain=NCHWC, channels=channels, channels_last=0),
        ]
    nodes += [
        helper.make_node("Concat", [f"P{i}" for i in range(len(parts))], ["X"], axis=1),
        *_excitation_of_x(c),
        helper.make_node("ReorderOutput", ["y_b"], ["out"], domain=NCHWC, channels=c, channels_last=0),
    ]
    graph = helper.make_graph(
        nodes, "se_concat", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, [n, c, hw, hw])], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(NCHWC, 1)])
    shapes = {f"P{i}": (n, channels, hw, hw) for i, channels in enumerate(parts)}
    shapes |= {name: (n, c, hw, hw) for name in ("X", "y", "out")} | {"mean": (n, c, 1, 1), "gate": (n, c, 1, 1)}
    return model, shapes


def optimized_depthwise_se_graph(
    n: int,
    c: int,
    hw: int,
    block: int,
    *,
    group: int | None = None,
    bias: bool = True,
    fused_sum: bool = False,
    pointwise_out: int | None = None,
    kernel: int = 1,
) -> tuple[onnx.ModelProto, dict]:
    """x -> nchwc Conv1x1+Relu -> ReorderOutput -> SE -> Mul -> ReorderInput -> nchwc 3x3 depthwise (stride 2): MobileNet.

    The depthwise filter is stored as ORT stores it, OIHWBo ([C/b, 1, 3, 3, b] bytes as dims [C, 1, 3, 3]).
    ``pointwise_out``: the conv after the SE is instead an ungrouped conv to that many channels (stride 1),
    1x1, or ``kernel`` x ``kernel`` with padding and a fused Relu (SE-VGG), its weight stored OIHWBiBo like ORT's.
    """
    rng = np.random.default_rng(0)
    dw_plain = rng.standard_normal((c, 1, 3, 3)).astype(np.float32)
    dw_blocked = dw_plain.reshape(c // block, block, 1, 3, 3).transpose(0, 2, 3, 4, 1).reshape(c, 1, 3, 3)
    inits = [
        numpy_helper.from_array((rng.standard_normal((c, c, 1, 1)) / np.sqrt(c)).astype(np.float32), "wp"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(rng.standard_normal((block, c, 1, 1)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((c, block, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.ascontiguousarray(dw_blocked), "wd"),
        numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), "bd"),
    ]
    out_c = c
    if pointwise_out is not None:
        out_c = pointwise_out
        plain_pw = rng.standard_normal((out_c, c, kernel, kernel)).astype(np.float32)
        blocked_pw = plain_pw.reshape(out_c // block, block, c // block, block, kernel, kernel)
        blocked_pw = blocked_pw.transpose(0, 2, 4, 5, 3, 1)  # [Ob, Cb, kh, kw, b_in, b_out]
        inits[4] = numpy_helper.from_array(np.ascontiguousarray(blocked_pw).reshape(out_c, c, kernel, kernel), "wd")
        inits[5] = numpy_helper.from_array(rng.standard_normal(out_c).astype(np.float32), "bd")
    dw_inputs = ["y_b", "wd", "bd" if bias else ""]
    if fused_sum:
        dw_inputs.append("xin_b")
    nodes = [
        helper.make_node("ReorderInput", ["x"], ["xin_b"], domain=NCHWC, channels_last=0),
        helper.make_node("Conv", ["xin_b", "wp"], ["xb"], domain=NCHWC, kernel_shape=[1, 1], activation="Relu"),
        helper.make_node("ReorderOutput", ["xb"], ["X"], domain=NCHWC, channels=c, channels_last=0),
        *_excitation_of_x(c),
    ]
    if pointwise_out is None:
        nodes.append(
            helper.make_node(
                "Conv",
                dw_inputs,
                ["d_b"],
                domain=NCHWC,
                kernel_shape=[3, 3],
                strides=[1, 1] if fused_sum else [2, 2],
                pads=[1, 1, 1, 1],
                group=c if group is None else group,
                activation="Relu",
            )
        )
    else:
        dense = {"pads": [kernel // 2] * 4, "activation": "Relu"} if kernel > 1 else {}
        nodes.append(
            helper.make_node("Conv", dw_inputs, ["d_b"], domain=NCHWC, kernel_shape=[kernel, kernel], group=1, **dense)
        )
    nodes.append(helper.make_node("ReorderOutput", ["d_b"], ["out"], domain=NCHWC, channels=out_c, channels_last=0))
    out_hw = hw if fused_sum or pointwise_out is not None else (hw + 1) // 2
    graph = helper.make_graph(
        nodes,
        "se_dw",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, hw, hw])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [n, out_c, out_hw, out_hw])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(NCHWC, 1)])
    shapes = {name: (n, c, hw, hw) for name in ("x", "X", "y")} | {"mean": (n, c, 1, 1), "gate": (n, c, 1, 1)}
    return model, shapes | {"out": (n, out_c, out_hw, out_hw)}
