"""Transpose sinking: exact, cancels inverse pairs through elementwise ops, leaves real transposes alone."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from se_deploy.onnx_compare import session
from se_deploy.rewrite.layout import sink_transposes


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], out_shape: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((1, 4, 3, 5)).astype(np.float32)
    return session(model).run(["y"], {"x": x})[0]


def test_nhwc_round_trip_through_relu_and_scalar_add_cancels() -> None:
    three = numpy_helper.from_array(np.array(3.0, np.float32), "three")
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Relu", ["t"], ["r"]),
        helper.make_node("Add", ["r", "three"], ["a"]),
        helper.make_node("Transpose", ["a"], ["y"], perm=[0, 3, 1, 2]),
    ]
    model = _model(nodes, [three], [1, 4, 3, 5])
    want = _run(model)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    assert sink_transposes(rewritten) > 0
    assert [n.op_type for n in rewritten.graph.node] == ["Relu", "Add", "Identity"]  # y keeps its name
    np.testing.assert_array_equal(_run(rewritten), want)


def test_reduce_mean_over_nhwc_spatial_axes_becomes_nchw() -> None:
    axes = {"axes": [1, 2], "keepdims": 1}
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("ReduceMean", ["t"], ["m"], **axes),
        helper.make_node("Transpose", ["m"], ["y"], perm=[0, 3, 1, 2]),
    ]
    model = _model(nodes, [], [1, 4, 1, 1])
    want = _run(model)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    sink_transposes(rewritten)
    reduce, identity = rewritten.graph.node
    assert identity.op_type == "Identity" and identity.output[0] == "y"
    assert reduce.op_type == "ReduceMean" and list(reduce.attribute[0].ints) == [2, 3]
    np.testing.assert_allclose(_run(rewritten), want, rtol=1e-6)


def test_a_transpose_that_reorders_real_dims_is_kept() -> None:
    shape = numpy_helper.from_array(np.array([1, 4, 15, 1], np.int64), "shape")
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 1, 3]),  # swaps 4 and 15: not a view
    ]
    model = _model(nodes, [shape], [1, 15, 4, 1])
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    assert sink_transposes(rewritten) == 0
    assert [n.op_type for n in rewritten.graph.node] == ["Reshape", "Transpose"]
