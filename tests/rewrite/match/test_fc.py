"""Links 2 and 4, the FC layers: one negative test per check, each saying why it failed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from onnx import helper

from se_deploy.rewrite.match import find_se_blocks
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import assert_near_miss, make_runtime_input, node_writing, replace_initializer


def _edited(spec: SEGraph, edit: Callable[[onnx.ModelProto], object]) -> Callable[[], onnx.ModelProto]:
    def build() -> onnx.ModelProto:
        model = spec.build()
        edit(model)
        return model

    return build


def _set(output: str, **attributes: object) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        node_writing(model, output).attribute.extend(helper.make_attribute(k, v) for k, v in attributes.items())

    return edit


def _swap_inputs(output: str) -> Callable[[onnx.ModelProto], None]:
    def edit(model: onnx.ModelProto) -> None:
        node = node_writing(model, output)
        node.input[0], node.input[1] = node.input[1], node.input[0]

    return edit


def _initializer(name: str, value: np.ndarray) -> Callable[[onnx.ModelProto], None]:
    return lambda model: replace_initializer(model, name, value)


f32 = np.float32
NEGATIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str, str]] = {
    # check: the FC is a 1x1 convolution
    "fc_kernel_3x3": (SEGraph(fc1_kernel=3).build, "fc1", "kernel is 3x3"),
    "fc_grouped": (SEGraph(fc1_group=2).build, "fc1", "group=2"),
    "fc_padded": (SEGraph(fc1_pads=(1, 1, 1, 1)).build, "fc1", "pads"),
    "fc_auto_padded": (_edited(SEGraph(), _set("fc1_out", auto_pad="SAME_UPPER")), "fc1", "auto_pad"),
    "fc_dilated": (_edited(SEGraph(), _set("fc1_out", dilations=[2, 2])), "fc1", "Conv is dilated"),
    "gemm_transposes_data": (_edited(SEGraph(fc="gemm"), _set("fc1_out", transA=1)), "fc1", "transA=1"),
    # check: FC weights and bias are constants
    "fc_runtime_weights": (SEGraph(fc1_weight_is_input=True).build, "fc1", "computed at run time"),
    "fc_runtime_bias": (
        _edited(SEGraph(), lambda m: make_runtime_input(m, "fc1_b")),
        "fc1",
        "the Conv bias is computed at run time, not a constant",
    ),
    # check: an FC op, the squeezed values as its data operand
    "not_an_fc_op": (
        _edited(SEGraph(), lambda m: setattr(node_writing(m, "fc2_out"), "op_type", "Tanh")),
        "fc2",
        "expected a fully connected layer (1x1 Conv, Gemm or MatMul), found Tanh",
    ),
    "squeezed_values_as_weights": (
        _edited(SEGraph(fc="matmul"), _swap_inputs("fc1_mm")),
        "fc1",
        "MatMul takes the squeezed values as its weight operand, not as data",
    ),
    # check: weight rank and bias size
    "conv_weight_rank_3": (
        _edited(SEGraph(), _initializer("fc1_w", np.ones((2, 8, 1), f32))),
        "fc1",
        "Conv weights have rank 3, expected 4",
    ),
    "gemm_weight_rank_3": (
        _edited(SEGraph(fc="gemm"), _initializer("fc1_w", np.ones((2, 8, 1), f32))),
        "fc1",
        "Gemm weights have rank 3, expected 2",
    ),
    "matmul_weight_rank_3": (
        _edited(SEGraph(fc="matmul"), _initializer("fc1_w", np.ones((8, 2, 1), f32))),
        "fc1",
        "MatMul weights have rank 3, expected 2",
    ),
    "gemm_bias_size": (
        _edited(SEGraph(fc="gemm"), _initializer("fc1_b", np.ones(3, f32))),
        "fc1",
        "Gemm bias has 3 values for 2 outputs",
    ),
    # a MatMul's Add is its bias only with 1 or out_features values; else the walk finds an Add for activation
    "matmul_add_of_wrong_size": (
        _edited(SEGraph(fc="matmul"), _initializer("fc1_b", np.ones(3, f32))),
        "activation",
        "unsupported activation between the FC layers: Add",
    ),
    # check: FC2 maps the reduced width back
    "fc_shapes_do_not_chain": (
        _edited(SEGraph(), _initializer("fc2_w", np.ones((8, 3, 1, 1), f32))),
        "fc2",
        "FC shapes do not chain: W1 is (2, 8) (out, in) but W2 is (8, 3)",
    ),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_failed_check_is_a_near_miss_with_its_reason(name: str) -> None:
    build, stage, reason = NEGATIVE[name]
    assert_near_miss(build(), stage, reason)


def test_gemm_alpha_and_beta_fold_into_weight_and_bias() -> None:
    plain = find_se_blocks(SEGraph(fc="gemm").build()).blocks[0]
    model = SEGraph(fc="gemm").build()
    _set("fc1_out", alpha=2.0, beta=0.5)(model)
    scaled = find_se_blocks(model).blocks[0]
    np.testing.assert_array_equal(scaled.w1, plain.w1 * 2)
    np.testing.assert_array_equal(scaled.b1, plain.b1 * np.float32(0.5))
