from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from se_deploy.models.registry import Preprocessing
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.int8 import QUANT_PRESETS, quantize_int8
from se_deploy.rewrite.surgery import fuse_se


@pytest.fixture(scope="module")
def calibration(digits_folders: dict[str, Path]):  # type: ignore[no-untyped-def]
    return load_calibration_set(digits_folders["train"], Preprocessing(resize_size=36, crop_size=32), samples=32)


@pytest.fixture(scope="module")
def stock(digits_models: dict[str, Path]) -> onnx.ModelProto:
    return onnx.load(str(digits_models["se_resnet_tiny"]))


def _zero_point_types(model: onnx.ModelProto) -> set[int]:
    inits = {i.name: i for i in model.graph.initializer}
    return {
        inits[n.input[2]].data_type for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[2] in inits
    }


def test_fused_se_nodes_stay_unquantized_for_tensorrt(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    result = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["tensorrt"])
    ops = Counter(n.op_type for n in result.model.graph.node)
    assert ops["SqueezeExcitationResidual"] == 4 and ops["QuantizeLinear"] > 0
    assert result.se_ops_with_qdq == 0


def test_onnxruntime_target_is_u8s8_and_inlines_the_fused_se(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    result = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["onnxruntime"])
    ops = Counter(n.op_type for n in result.model.graph.node)
    # ONNX Runtime inlines the fused node anyway: it is inlined before quantizing (tests/precision/test_se_qdq.py)
    assert ops["SqueezeExcitationResidual"] == 0 and ops["QuantizeLinear"] > 0 and result.se_inlined == 4
    assert _zero_point_types(result.model) == {TensorProto.UINT8}  # U8S8 for ONNX Runtime


def test_quantize_se_puts_qdq_inside_the_se_blocks(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    result = quantize_int8(stock, calibration, settings=QUANT_PRESETS["tensorrt"], quantize_se=True)
    assert result.se_ops_with_qdq > 0
    assert _zero_point_types(result.model) == {TensorProto.INT8}  # symmetric S8S8 for TensorRT


def test_no_int32_bias_dequantize(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    model = quantize_int8(
        fuse_se(stock).model, calibration, settings=QUANT_PRESETS["tensorrt"], method="percentile"
    ).model
    inits = {i.name: i for i in model.graph.initializer}
    dq_types = {
        inits[n.input[0]].data_type for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
    }
    assert TensorProto.INT32 not in dq_types and dq_types == {TensorProto.INT8}
    assert np.isfinite([1.0]).all()


def test_unknown_method_is_refused(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="calibration method"):
        quantize_int8(stock, calibration, settings=QUANT_PRESETS["tensorrt"], method="kl")
