"""ReduceMean(H, W) -> GlobalAveragePool: exact through ONNX Runtime, every axes spelling, others left alone."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from se_deploy.onnx_compare import random_inputs, session
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.squeeze_pool import reduce_mean_to_global_pool
from tests.rewrite.graphs import SEGraph


def _ops(model: onnx.ModelProto) -> Counter[str]:
    return Counter(node.op_type for node in model.graph.node)


def _outputs(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return session(model).run(None, feeds)


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("axes", [(2, 3), (3, 2), (-1, -2), (-2, -1), (2, -1)])
@pytest.mark.parametrize("keepdims", [1, 0])
def test_spatial_reduce_mean_becomes_global_pool_exactly(opset: int, axes: tuple[int, ...], keepdims: int) -> None:
    fc = "conv" if keepdims else "gemm"  # keepdims=0 leaves (N, C): the FCs are Gemm then
    model = SEGraph(pool="ReduceMean", opset=opset, reduce_axes=axes, keepdims=keepdims, fc=fc).build()
    result = reduce_mean_to_global_pool(model)
    onnx.checker.check_model(result.model, full_check=True)
    ops = _ops(result.model)
    assert ops["ReduceMean"] == 0 and ops["GlobalAveragePool"] == 1
    assert ops["Squeeze"] == (0 if keepdims else 1)
    assert len(result.rewritten) == 1 and not result.skipped
    assert "axes" not in {i.name for i in result.model.graph.initializer}  # the dead axes constant is gone
    assert len(find_se_blocks(result.model).blocks) == 1  # still an SE block to the matcher
    for batch in (1, 3):
        feeds = random_inputs(model, batch, seed=batch)
        want, got = _outputs(model, feeds), _outputs(result.model, feeds)
        for w, g in zip(want, got, strict=True):
            assert w.shape == g.shape
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)  # same mean; only summation order may differ


def test_the_input_model_is_not_modified() -> None:
    model = SEGraph(pool="ReduceMean", opset=18).build()
    before = model.SerializeToString()
    reduce_mean_to_global_pool(model)
    assert model.SerializeToString() == before


def _single_reduce(
    shape: list[int], *, opset: int, axes: list[int] | None, axes_input: str | None = None
) -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, shape)]
    inits = []
    if opset >= 18:
        args = ["X"]
        if axes_input == "runtime":
            inputs.append(helper.make_tensor_value_info("A", TensorProto.INT64, [2]))
            args.append("A")
        elif axes is not None:
            inits.append(numpy_helper.from_array(np.array(axes, dtype=np.int64), "A"))
            args.append("A")
        node = helper.make_node("ReduceMean", args, ["Y"], keepdims=1)
    else:
        kwargs = {"axes": axes} if axes is not None else {}
        node = helper.make_node("ReduceMean", ["X"], ["Y"], keepdims=1, **kwargs)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize(
    ("shape", "opset", "axes", "axes_input", "reason"),
    [
        ([2, 4, 5, 5], 18, [1, 2, 3], None, "not exactly H and W"),
        ([2, 4, 5, 5], 17, [1], None, "not exactly H and W"),
        ([2, 4, 5, 5], 17, None, None, "reduces every axis"),
        ([2, 4, 5, 5], 18, None, None, "reduces every axis"),
        ([2, 4, 5, 5], 18, None, "runtime", "computed at run time"),
        ([2, 4, 5], 18, [1, 2], None, "rank 3"),
        ([2, 4, 5, 5, 5], 17, [2, 3], None, "rank 5"),
        (None, 17, [2, 3], None, "rank is unknown"),
    ],
)
def test_other_reduce_means_are_left_alone_with_a_reason(
    shape: list[int] | None, opset: int, axes: list[int] | None, axes_input: str | None, reason: str
) -> None:
    model = _single_reduce(shape, opset=opset, axes=axes, axes_input=axes_input)  # type: ignore[arg-type]
    result = reduce_mean_to_global_pool(model)
    assert _ops(result.model) == Counter({"ReduceMean": 1})
    assert not result.rewritten
    assert len(result.skipped) == 1 and reason in result.skipped[0].reason


def test_integer_reduce_mean_is_left_alone() -> None:
    node = helper.make_node("ReduceMean", ["X"], ["Y"], axes=[2, 3], keepdims=1)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.INT32, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result = reduce_mean_to_global_pool(model)
    assert not result.rewritten and "float" in result.skipped[0].reason


def test_an_axes_constant_read_elsewhere_is_kept() -> None:
    model = SEGraph(pool="ReduceMean", opset=18).build()
    model.graph.node.append(helper.make_node("Identity", ["axes"], ["axes_copy"]))
    model.graph.output.append(helper.make_tensor_value_info("axes_copy", TensorProto.INT64, [2]))
    result = reduce_mean_to_global_pool(model)
    assert result.rewritten and "axes" in {i.name for i in result.model.graph.initializer}
    onnx.checker.check_model(result.model)
