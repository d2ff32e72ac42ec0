from __future__ import annotations

from collections import Counter

import onnx
import pytest
from onnx import TensorProto

from se_deploy.onnx_compare import compare_models
from se_deploy.precision.fp16 import convert_fp16
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph


@pytest.fixture
def fused() -> onnx.ModelProto:
    return fuse_se(SEGraph(residual=True).build()).model


def test_fp16_keeps_io_in_fp32_and_matches(fused: onnx.ModelProto) -> None:
    result = convert_fp16(fused)
    model = result.model
    onnx.checker.check_model(model)  # topologically sorted again
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert {i.data_type for i in model.graph.initializer} == {TensorProto.FLOAT16}
    assert result.kept_fp32_ops == {}
    assert compare_models(fused, model, atol=1e-2, rtol=1e-2).passed


def test_se_node_can_stay_in_fp32(fused: onnx.ModelProto) -> None:
    result = convert_fp16(fused, se_precision="fp32")
    assert result.kept_fp32_ops == {"SqueezeExcitationResidual": 1}
    ops = Counter(n.op_type for n in result.model.graph.node)
    assert ops["Cast"] >= 2 and ops["SqueezeExcitationResidual"] == 1
    assert compare_models(fused, result.model, atol=1e-3, rtol=1e-3).passed


def test_bad_se_precision_is_refused(fused: onnx.ModelProto) -> None:
    with pytest.raises(ValueError, match="fp16 or fp32"):
        convert_fp16(fused, se_precision="int8")
