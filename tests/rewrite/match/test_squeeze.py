"""Link 1, the squeeze: what is a candidate at all, and FC1's width against the squeezed channels."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from se_deploy.rewrite.match import find_se_blocks
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import assert_near_miss, make_runtime_input, node_writing, replace_initializer


def test_channel_reduction_is_not_a_spatial_squeeze() -> None:
    report = find_se_blocks(SEGraph(pool="ReduceMean", reduce_axes=(1,), keepdims=1, fc="gemm").build())
    assert report.blocks == () and report.near_misses == ()


def _reduce_over_all_axes() -> onnx.ModelProto:
    model = SEGraph(pool="ReduceMean", opset=18).build()
    del node_writing(model, "s").input[1]
    return model


def _custom_domain_pool() -> onnx.ModelProto:
    model = SEGraph().build()
    node_writing(model, "s").domain = "custom"
    return model


def _rank_3_input() -> onnx.ModelProto:
    model = SEGraph().build()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    del dims[3]
    return model


NOT_A_CANDIDATE = {
    "reduce_over_all_axes": _reduce_over_all_axes,
    "reduce_axes_at_run_time": lambda: make_runtime_input(SEGraph(pool="ReduceMean", opset=18).build(), "axes"),
    "custom_domain_pool": _custom_domain_pool,
    "pool_of_rank_3_tensor": _rank_3_input,
}


@pytest.mark.parametrize("name", list(NOT_A_CANDIDATE))
def test_no_spatial_squeeze_is_no_candidate(name: str) -> None:
    report = find_se_blocks(NOT_A_CANDIDATE[name]())
    assert report.blocks == () and report.near_misses == ()


def test_fc1_wider_than_the_squeezed_tensor_is_a_near_miss() -> None:
    model = SEGraph().build()  # 8 channels, reduced to 2
    replace_initializer(model, "fc1_w", np.ones((2, 9, 1, 1), dtype=np.float32))
    replace_initializer(model, "fc2_w", np.ones((9, 2, 1, 1), dtype=np.float32))
    replace_initializer(model, "fc2_b", np.ones(9, dtype=np.float32))
    assert_near_miss(model, "fc1", "FC1 takes 9 channels but the squeezed tensor has 8")
