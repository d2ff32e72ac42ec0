"""Link 6, the scale: Mul(x, gate), its broadcast, shape reads of inner values, and the residual tail."""

from __future__ import annotations

from collections.abc import Callable

import onnx
import pytest
from onnx import TensorProto, helper

from se_deploy.rewrite.match import find_se_blocks
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import add_output, assert_near_miss, node_writing


def _gate_feeds_add() -> onnx.ModelProto:
    model = SEGraph().build()
    node_writing(model, "Y").op_type = "Add"
    return model


def _reshape_target_from_custom_op() -> onnx.ModelProto:
    """The gate's Reshape target computed by an op no shape inference knows: the gate's shape is unknown."""
    model = SEGraph(fc="gemm").build()
    init = next(i for i in model.graph.initializer if i.name == "back_shape")
    model.graph.initializer.remove(init)
    model.graph.node.insert(0, helper.make_node("TargetShape", [], ["back_shape"], domain="custom"))
    model.opset_import.append(helper.make_opsetid("custom", 1))
    return model


def _shape_of_hidden(helpers: int, *, to_output: bool) -> Callable[[], onnx.ModelProto]:
    """Shape(fc1_out) -> ``helpers`` Identity nodes, the last one a graph output or read by nothing."""

    def build() -> onnx.ModelProto:
        model = SEGraph().build()
        model.graph.node.append(helper.make_node("Shape", ["fc1_out"], ["h0"]))
        for position in range(helpers):
            model.graph.node.append(helper.make_node("Identity", [f"h{position}"], [f"h{position + 1}"]))
        if to_output:
            add_output(model, f"h{helpers}", TensorProto.INT64)
        return model

    return build


NEGATIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    # check: the gate feeds a Mul with the squeezed tensor
    "gate_feeds_add": (_gate_feeds_add, "the gate feeds Add, not the Mul that scales the input"),
    "gate_scales_another_tensor": (SEGraph(mul_other="Other").build, "multiplies 'Other'"),
    # check: the gate broadcasts over the squeezed tensor's channels
    "gate_broadcast_over_height": (
        SEGraph(fc="gemm", back_shape=(-1, 1, 8, 1), spatial=8).build,
        "must broadcast as (N, 8, 1, 1)",
    ),
    "gate_shape_unknown_after_views": (
        _reshape_target_from_custom_op,
        "cannot prove that the gate broadcasts as (N, C, 1, 1) over the input",
    ),
    # check: shapes of inner values feed only the block
    "shape_read_reaches_output": (
        _shape_of_hidden(0, to_output=True),
        "the shape of an inner value reaches the graph output 'h0'",
    ),
    "shape_read_feeds_large_subgraph": (
        _shape_of_hidden(64, to_output=False),
        "the shape of an inner value feeds a large subgraph outside the SE block",
    ),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_failed_check_is_a_near_miss_with_its_reason(name: str) -> None:
    build, reason = NEGATIVE[name]
    assert_near_miss(build(), "scale", reason)


def test_shape_read_that_goes_nowhere_is_harmless() -> None:
    assert len(find_se_blocks(_shape_of_hidden(3, to_output=False)()).blocks) == 1


@pytest.mark.parametrize(("relu", "activation"), [(True, "relu"), (False, "none")])
def test_residual_tail_is_claimed(relu: bool, activation: str) -> None:
    block = find_se_blocks(SEGraph(residual=True, residual_relu=relu).build(), residual=True).blocks[0]
    assert block.residual is not None and block.residual.activation == activation
    assert len(block.residual.nodes) == (2 if relu else 1)


def test_broadcasting_add_is_no_residual() -> None:
    model = SEGraph(residual=True).build()
    residual_dims = next(i for i in model.graph.input if i.name == "R").type.tensor_type.shape.dim
    residual_dims[2].dim_value = residual_dims[3].dim_value = 1
    block = find_se_blocks(model, residual=True).blocks[0]
    assert block.residual is None
    assert find_se_blocks(SEGraph(residual=True).build(), residual=False).blocks[0].residual is None
