"""Per rule: a one-block graph, the op list after fusing, numerical equality through ORT; and one
negative test per check, each saying why it failed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from onnx import TensorProto

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph

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


def test_written_out_hard_sigmoid_becomes_alpha_beta() -> None:
    block = find_se_blocks(SEGraph(gate="relu6_div").build()).blocks[0]
    assert block.gate == "hard_sigmoid"
    assert block.gate_alpha == pytest.approx(1 / 6) and block.gate_beta == pytest.approx(0.5)


NEGATIVE = {
    # check: the FC is a 1x1 convolution
    "fc_kernel_3x3": (SEGraph(fc1_kernel=3), "fc1", "kernel is 3x3"),
    "fc_grouped": (SEGraph(fc1_group=2), "fc1", "group=2"),
    "fc_padded": (SEGraph(fc1_pads=(1, 1, 1, 1)), "fc1", "pads"),
    # check: FC weights are constants
    "fc_runtime_weights": (SEGraph(fc1_weight_is_input=True), "fc1", "computed at run time"),
    # check: inner values have one reader
    "hidden_read_elsewhere": (SEGraph(extra_reader_of_hidden=True), "activation", "read by 2 nodes"),
    # check: supported activation / gate
    "tanh_activation": (SEGraph(activation="Tanh"), "activation", "unsupported activation"),
    "tanh_gate": (SEGraph(gate="Tanh"), "gate", "expected a gate"),
    "hard_sigmoid_nonpositive_alpha": (SEGraph(gate="HardSigmoid", hard_sigmoid_alpha=-0.5), "gate", "alpha"),
    "clip_not_onto_unit_interval": (SEGraph(gate="relu6_div", clip_high=5.0), "gate", "does not map onto [0, 1]"),
    # check: the gate scales the squeezed tensor, broadcast over its channels
    "gate_scales_another_tensor": (SEGraph(mul_other="Other"), "scale", "multiplies 'Other'"),
    "gate_broadcast_over_height": (
        SEGraph(fc="gemm", back_shape=(-1, 1, 8, 1), spatial=8),
        "scale",
        "must broadcast as (N, 8, 1, 1)",
    ),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_failed_check_is_a_near_miss_with_its_reason(name: str) -> None:
    spec, stage, reason = NEGATIVE[name]
    report = find_se_blocks(spec.build())
    assert report.blocks == ()
    assert len(report.near_misses) == 1, report
    miss = report.near_misses[0]
    assert miss.stage == stage and reason in miss.reason, miss


def test_channel_reduction_is_not_a_spatial_squeeze() -> None:
    report = find_se_blocks(SEGraph(pool="ReduceMean", reduce_axes=(1,), keepdims=1, fc="gemm").build())
    assert report.blocks == () and report.near_misses == ()


def test_fp16_weights_stay_fp16() -> None:
    block = find_se_blocks(SEGraph(dtype=TensorProto.FLOAT16).build()).blocks[0]
    assert block.w1.dtype == np.float16 and block.dtype == "float16"
    fused = fuse_se(SEGraph(dtype=TensorProto.FLOAT16).build()).model
    assert Counter(i.data_type for i in fused.graph.initializer) == {TensorProto.FLOAT16: 4}
