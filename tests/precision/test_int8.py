from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.int8 import QUANT_PRESETS, quantize_int8
from se_deploy.preprocessing import Preprocessing
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


def test_logits_stay_float_so_top1_has_no_quantization_ties(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    def logits(model: onnx.ModelProto) -> np.ndarray:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        batch = np.concatenate(list(calibration))
        return session.run(None, {session.get_inputs()[0].name: batch})[0]

    fused = fuse_se(stock).model
    output = stock.graph.output[0].name
    quantized = quantize_int8(fused, calibration, settings=QUANT_PRESETS["onnxruntime"], float_outputs=False)
    floating = quantize_int8(fused, calibration, settings=QUANT_PRESETS["onnxruntime"])
    producer = {out: n for n in floating.model.graph.node for out in n.output}
    assert floating.float_outputs == (output,) and producer[output].op_type == "Identity"
    assert {n.op_type for n in quantized.model.graph.node if output in n.output} == {"DequantizeLinear"}
    # quantized logits take one of 256 levels: with 32 images x 10 classes, values repeat; float ones do not
    assert len(np.unique(logits(quantized.model))) < len(np.unique(logits(floating.model))) == 320
    used = {name for node in floating.model.graph.node for name in node.input}
    assert all(i.name in used for i in floating.model.graph.initializer)  # the dropped pair's scale/zero point went too


def test_onnxruntime_preset_uses_7_bit_weights(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    from onnx import numpy_helper

    model = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["onnxruntime"]).model
    weights = [numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == TensorProto.INT8]
    assert weights and max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64  # no int16 pair overflow
