"""The SE-native rewrite as a pure function of ORT's optimized graph and the NCHWc block size.

Block 16 (AVX-512) graphs are rewritten and checked for structure here; they are only executed on a
machine whose ORT uses block 16. Block 8 graphs from ORT itself run in test_build.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.optimize import optimize_with_ort
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.backends.onnxruntime.native.rewrite import (
    block_pointwise_weight,
    rewrite_native,
    unblock_pointwise_weight,
)

from .synthetic import NCHWC, optimized_concat_se_graph, optimized_se_graph


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize("block", [8, 16])
@pytest.mark.parametrize("hoist", [False, True])
def test_residual_se_block_becomes_one_grouped_nchwc_conv(block: int, hoist: bool) -> None:
    n, c, hw = 2, 32, 5
    model, shapes = optimized_se_graph(n, c, hw, block)
    result = rewrite_native(model, shapes, block, hoist=hoist)
    (outcome,) = result.blocks
    assert outcome.native and outcome.residual and outcome.channels == c and outcome.hoisted == hoist
    nodes = result.model.graph.node
    ops = [(x.domain, x.op_type) for x in nodes]
    assert ("", "Mul") not in ops and ("", "Add") not in ops and ("", "Relu") not in ops
    assert ("", "ReduceMean") not in ops
    (scale,) = [x for x in nodes if x.domain == NCHWC and x.op_type == "Conv" and _attrs(x).get("group") == n * c]
    assert _attrs(scale)["activation"].decode() == "Relu" and _attrs(scale)["kernel_shape"] == [1, 1]
    inits = {i.name: numpy_helper.to_array(i) for i in result.model.graph.initializer}
    reshapes = {x.output[0]: inits[x.input[1]].tolist() for x in nodes if x.op_type == "Reshape"}
    assert reshapes[scale.input[0]] == [1, n * c, hw, hw] and reshapes[scale.input[3]] == [1, n * c, hw, hw]
    assert reshapes[scale.input[1]] == [n * c, 1, 1, 1]
    producers = {o: x for x in nodes for o in x.output}
    x_source = producers[scale.input[0]].input[0]
    r_source = producers[scale.input[3]].input[0]
    assert x_source == "xb" and r_source == "r_b"  # the blocked tensors themselves: no reorder added
    pools = [x for x in nodes if x.domain == NCHWC and x.op_type == "GlobalAveragePool"]
    assert [p.input[0] for p in pools] == (["xin_b"] if hoist else ["xb"])
    # the block's output and the squeeze reach their readers blocked: only the graph inputs are reordered
    # (and the hoisted squeeze's small plain conv output, which the FCs read blocked)
    reordered = sorted(x.input[0] for x in nodes if x.op_type == "ReorderInput")
    assert reordered == (["mean", "r", "x"] if hoist else ["r", "x"])


@pytest.mark.parametrize("block", [8, 16])
def test_at_batch_one_the_scaling_conv_reads_and_writes_the_blocked_tensors_without_views(block: int) -> None:
    """[1, C, H, W] is already one sample of N*C channels: no Reshape around the conv (each costs a node run)."""
    model, shapes = optimized_se_graph(1, 32, 5, block)
    result = rewrite_native(model, shapes, block, hoist=False)
    nodes = result.model.graph.node
    (scale,) = [x for x in nodes if x.domain == NCHWC and x.op_type == "Conv" and _attrs(x).get("group") == 32]
    assert scale.input[0] == "xb" and scale.input[3] == "r_b"
    assert [x.op_type for x in nodes if x.op_type == "Reshape"] == ["Reshape"]  # the gate as the conv's weight
    readers = [x for x in nodes if scale.output[0] in x.input]
    assert readers and all(x.op_type != "Reshape" for x in readers)  # read as it is, not through a view


@pytest.mark.parametrize("block", [8, 16])
def test_plain_se_without_residual(block: int) -> None:
    model, shapes = optimized_se_graph(1, 32, 3, block, residual=False)
    result = rewrite_native(model, shapes, block, hoist=False)
    (outcome,) = result.blocks
    assert outcome.native and not outcome.residual
    (scale,) = [x for x in result.model.graph.node if x.op_type == "Conv" and _attrs(x).get("group") == 32]
    assert "activation" not in _attrs(scale) and len(scale.input) == 2


def test_channels_not_a_multiple_of_the_block_fall_back_with_the_reason() -> None:
    model, shapes = optimized_se_graph(2, 24, 5, 16)  # 24 = 3 x 8: native at block 8, not at block 16
    assert rewrite_native(model, shapes, 8).blocks[0].native
    (outcome,) = rewrite_native(model, shapes, 16).blocks
    assert not outcome.native and outcome.reason == "C=24 is not a multiple of the NCHWc block size 16"
    unchanged = rewrite_native(model, shapes, 16).model
    assert sorted(x.op_type for x in unchanged.graph.node) == sorted(x.op_type for x in model.graph.node)


def test_unknown_shape_and_wrong_gate_shape_fall_back() -> None:
    model, shapes = optimized_se_graph(2, 32, 5, 8)
    no_shape = {k: v for k, v in shapes.items() if k != "X"}
    assert "shape is not known" in rewrite_native(model, no_shape, 8).blocks[0].reason
    spatial_gate = shapes | {"gate": (2, 32, 5, 5)}
    assert "the gate has shape" in rewrite_native(model, spatial_gate, 8).blocks[0].reason


@pytest.mark.parametrize("block", [8, 16])
def test_pointwise_weight_blocking_round_trips(block: int) -> None:
    plain = np.random.default_rng(0).standard_normal((2 * block, 3 * block)).astype(np.float32)
    blocked = block_pointwise_weight(plain, block)
    assert blocked.shape == (2 * block, 3 * block, 1, 1) and not np.array_equal(blocked.reshape(plain.shape), plain)
    np.testing.assert_array_equal(unblock_pointwise_weight(blocked, block), plain)


def test_unblocking_matches_the_weights_ort_writes_on_this_cpu(tmp_path: Path) -> None:
    """ORT's own OIHWBiBo reorder of a 1x1 conv, read back with the block size detected here."""
    block = current_platform().nchwc_block
    if block is None:
        pytest.skip("ONNX Runtime uses no NCHWc layout on this CPU")
    c = 2 * block
    weight = np.random.default_rng(1).standard_normal((c, c, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, c, 4, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, c, 4, 4])],
        [numpy_helper.from_array(weight, "w")],
    )
    optimized = optimize_with_ort(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "o.onnx"
    )
    (conv,) = [x for x in optimized.graph.node if x.domain == NCHWC and x.op_type == "Conv"]
    (stored,) = [numpy_helper.to_array(i) for i in optimized.graph.initializer if i.name == conv.input[1]]
    np.testing.assert_array_equal(unblock_pointwise_weight(stored, block), weight[:, :, 0, 0])


@pytest.mark.parametrize("block", [8, 16])
def test_se_on_a_concat_concatenates_the_blocked_branches(block: int) -> None:
    n, parts, hw = 2, (16, 32, 16), 4
    model, shapes = optimized_concat_se_graph(n, parts, hw, block)
    (outcome,) = rewrite_native(model, shapes, block).blocks
    assert outcome.native and outcome.channels == 64
    nodes = rewrite_native(model, shapes, block).model.graph.node
    (concat,) = [x for x in nodes if x.op_type == "Concat"]
    producers = {o: x for x in nodes for o in x.output}
    assert [producers[i].input[0] for i in concat.input] == ["b0", "b1", "b2"]  # the blocked branches, flattened
    assert all(producers[i].op_type == "Reshape" for i in concat.input) and _attrs(concat)["axis"] == 1
    assert not [x for x in nodes if x.op_type == "ReorderOutput" and x.input[0] in ("b0", "b1", "b2")]


def test_se_on_a_concat_with_an_unaligned_branch_falls_back() -> None:
    model, shapes = optimized_concat_se_graph(1, (8, 24), 4, 16)
    (outcome,) = rewrite_native(model, shapes, 16).blocks
    assert (
        not outcome.native
        and outcome.reason == "the SE input is a Concat with a part of 8 channels, not a multiple of 16"
    )
    assert rewrite_native(model, shapes, 8).blocks[0].native


@pytest.mark.parametrize("block", [8, 16])
def test_ort_blocked_squeeze_and_an_expanded_gate_are_rewritten(block: int) -> None:
    """GlobalAveragePool exports (legacy torch, TF, Paddle): ORT pools the blocked tensor; Gemm SEs Expand the gate."""
    model, shapes = optimized_se_graph(2, 2 * block, 3, block, blocked_squeeze=True, expand=True)
    rewritten = rewrite_native(model, shapes, block, hoist=True)
    (outcome,) = rewritten.blocks
    assert outcome.native and outcome.residual and not outcome.hoisted
    ops = [(n.domain, n.op_type, list(n.input)) for n in rewritten.model.graph.node]
    assert [o for o in ops if o[1] == "GlobalAveragePool"] == [(NCHWC, "GlobalAveragePool", ["xb"])]  # ORT's, kept
    assert not [o for o in ops if o[1] in ("Mul", "Expand", "Add", "Relu")]
    (scale,) = [n for n in rewritten.model.graph.node if n.op_type == "Conv" and n.name.startswith("se_native/")]
    assert next(a.i for a in scale.attribute if a.name == "group") == 2 * 2 * block


@pytest.mark.parametrize("block", [8, 16])
def test_a_residual_scale_joins_the_gate_and_the_residual_still_fuses(block: int) -> None:
    """Inception-ResNet: relu(r + k * (s * X)) = relu(r + (k s) * X): one grouped conv with Sum and Relu."""
    model, shapes = optimized_se_graph(2, 2 * block, 3, block, residual_scale=0.17)
    (outcome,) = rewrite_native(model, shapes, block).blocks
    assert outcome.native and outcome.residual and outcome.residual_scale
    nodes = rewrite_native(model, shapes, block).model.graph.node
    assert not [n for n in nodes if n.op_type in ("Add", "Relu")]
    (scaling,) = [n for n in nodes if n.op_type == "Mul"]  # the gate times k, [N,C,1,1]: no pass over X
    assert "k" not in scaling.input and any(i.startswith("se_native/residual_scale") for i in scaling.input)


def test_an_expand_that_broadcasts_beyond_x_is_not_looked_through() -> None:
    """Mul(X, Expand(g)) equals Mul(X, g) only when the product keeps X's shape."""
    model, shapes = optimized_se_graph(1, 16, 3, 8, expand=True)
    shapes["scaled"] = (1, 16, 6, 6)  # the Expand broadcast X to a larger shape
    (outcome,) = rewrite_native(model, shapes, 8).blocks
    assert not outcome.native and outcome.reason.startswith("the gate has shape (1, 16, 3, 3)")


@pytest.mark.parametrize("graph", ["residual", "plain", "concat", "blocked_squeeze", "expand", "residual_scale"])
@pytest.mark.parametrize("hoist", [False, True])
def test_synthetic_graphs_compute_the_same_on_this_cpu(graph: str, hoist: bool) -> None:
    """At this CPU's block size the hand-written NCHWc graphs run: the rewrite must not change their outputs."""
    import onnxruntime as ort

    block = current_platform().nchwc_block
    if block is None:
        pytest.skip("ONNX Runtime uses no NCHWc layout on this CPU")
    if graph == "concat":
        model, shapes = optimized_concat_se_graph(2, (block, 2 * block), 3, block)
    else:
        model, shapes = optimized_se_graph(
            2,
            4 * block,
            3,
            block,
            residual=graph != "plain",
            blocked_squeeze=graph == "blocked_squeeze",
            expand=graph == "expand",
            residual_scale=0.17 if graph == "residual_scale" else None,
        )
    rewritten = rewrite_native(model, shapes, block, hoist=hoist)
    hoistable = graph in ("residual", "plain", "expand", "residual_scale")  # a blocked squeeze: ORT's own
    assert rewritten.native_blocks == 1 and rewritten.blocks[0].hoisted == (hoist and hoistable)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    rng = np.random.default_rng(3)
    feeds = {
        i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
        for i in model.graph.input
    }
    want, got = (
        ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        for m in (model, rewritten.model)
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
