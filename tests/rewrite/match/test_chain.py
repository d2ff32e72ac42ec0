"""Per rule: a one-block graph, the op list after fusing, numerical equality through ORT; and how the
chain walk reports candidates. One negative test per check lives beside its link (test_<link>.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import assert_near_miss, replace_node

POSITIVE = {
    "gap_conv_relu_sigmoid": SEGraph(),
    "conv_without_bias": SEGraph(bias=False),
    "reducemean_attr_opset17": SEGraph(pool="ReduceMean", opset=17),
    "reducemean_input_opset18": SEGraph(pool="ReduceMean", opset=18),
    "reducemean_negative_axes": SEGraph(pool="ReduceMean", opset=18, reduce_axes=(-1, -2)),
    "reducemean_no_keepdims_gemm": SEGraph(pool="ReduceMean", keepdims=0, fc="gemm"),
    "gemm_fcs": SEGraph(fc="gemm"),
    "gemm_without_bias": SEGraph(fc="gemm", bias=False),
    "matmul_add_fcs": SEGraph(fc="matmul"),
    "matmul_without_bias": SEGraph(fc="matmul", bias=False),
    "silu_written_out": SEGraph(activation="SiLU"),
    "leaky_relu": SEGraph(activation="LeakyRelu"),
    "hard_swish": SEGraph(activation="HardSwish"),
    "hard_sigmoid_op": SEGraph(gate="HardSigmoid"),
    "hard_sigmoid_keras_alpha": SEGraph(gate="HardSigmoid", hard_sigmoid_alpha=0.2),
    "relu6_plus3_div6": SEGraph(gate="relu6_div"),
    "clip_of_x_over_6_plus_half": SEGraph(gate="clip01"),
    "gate_first_in_mul": SEGraph(mul_gate_first=True),
    "fp16": SEGraph(dtype=TensorProto.FLOAT16),
    "fp16_gemm_hard_sigmoid": SEGraph(dtype=TensorProto.FLOAT16, fc="gemm", gate="relu6_div"),
}


@pytest.mark.parametrize("name", list(POSITIVE))
def test_rule_matches_and_fuses_to_one_node(name: str) -> None:
    spec = POSITIVE[name]
    model = spec.build()
    report = find_se_blocks(model)
    assert len(report.blocks) == 1 and report.near_misses == ()
    block = report.blocks[0]
    assert (block.channels, block.reduced_channels) == (spec.channels, spec.reduced)
    fused = fuse_se(model).model
    assert [n.op_type for n in fused.graph.node] == ["SqueezeExcitation"]
    assert not fused.graph.initializer or all(i.name.startswith("se_deploy_") for i in fused.graph.initializer)
    tolerance = {"atol": 1e-2, "rtol": 1e-2} if spec.dtype == TensorProto.FLOAT16 else {}
    comparison = compare_models(model, fused, **tolerance)
    assert comparison.passed, comparison.to_dict()


def test_classifier_head_is_no_near_miss() -> None:
    """pool -> flatten -> Gemm stops before any gate and never multiplies the pooled tensor back: not reported."""
    weight = numpy_helper.from_array(np.ones((10, 8), dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["X"], ["s"]),
            helper.make_node("Flatten", ["s"], ["f"]),
            helper.make_node("Gemm", ["f", "w"], ["logits"], transB=1),
        ],
        "head",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 8, 5, 5])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [weight],
    )
    report = find_se_blocks(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert report.blocks == () and report.near_misses == ()


def test_early_stop_that_scales_back_is_a_near_miss() -> None:
    """pool -> Sigmoid -> ... -> Mul(x, .) stops at FC1 but multiplies x back: reported, with FC1's reason."""
    model = replace_node(SEGraph().build(), "fc1_out", helper.make_node("Sigmoid", ["s"], ["fc1_out"]))
    assert_near_miss(model, "fc1", "expected a fully connected layer (1x1 Conv, Gemm or MatMul), found Sigmoid")


def test_fp16_weights_stay_fp16() -> None:
    block = find_se_blocks(SEGraph(dtype=TensorProto.FLOAT16).build()).blocks[0]
    assert block.w1.dtype == np.float16 and block.dtype == "float16"
    fused = fuse_se(SEGraph(dtype=TensorProto.FLOAT16).build()).model
    assert Counter(i.data_type for i in fused.graph.initializer) == {TensorProto.FLOAT16: 4}
