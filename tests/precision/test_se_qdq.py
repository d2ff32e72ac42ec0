"""INT8 builds for ONNX Runtime: GAP squeeze everywhere, fused SE inlined with its excitation in float, and
ONNX Runtime's own optimized graph really fuses the squeeze into a quantized pooling op."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from se_deploy.models.registry import Preprocessing
from se_deploy.onnx_compare import session
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.int8 import QUANT_PRESETS, quantize_int8
from se_deploy.precision.se_qdq import inline_fused_se
from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.surgery import fuse_se

SE_BLOCKS = 4  # se_resnet_tiny


@pytest.fixture(scope="module")
def calibration(digits_folders: dict[str, Path]):  # type: ignore[no-untyped-def]
    return load_calibration_set(digits_folders["train"], Preprocessing(resize_size=36, crop_size=32), samples=16)


@pytest.fixture(scope="module")
def stock(digits_models: dict[str, Path]) -> onnx.ModelProto:
    return onnx.load(str(digits_models["se_resnet_tiny"]))


def _ort_optimized(model: onnx.ModelProto, folder: Path) -> Counter[tuple[str, str]]:
    """(domain, op_type) of the graph ONNX Runtime actually runs (its QDQ fusions applied)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(folder / "optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(folder / "optimized.onnx"))
    return Counter((node.domain, node.op_type) for node in optimized.graph.node)


def test_exported_squeeze_is_reduce_mean(stock: onnx.ModelProto) -> None:
    """The premise: the dynamo export writes the squeeze (and the head pool) as ReduceMean."""
    ops = Counter(node.op_type for node in stock.graph.node)
    assert ops["ReduceMean"] == SE_BLOCKS + 1 and ops["GlobalAveragePool"] == 0


@pytest.mark.parametrize("fused", [False, True], ids=["stock", "fused"])
def test_ort_fuses_every_squeeze_into_a_quantized_pool(
    stock: onnx.ModelProto, calibration, fused: bool, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model = fuse_se(stock).model if fused else stock
    result = quantize_int8(model, calibration, settings=QUANT_PRESETS["onnxruntime"])
    ops = Counter(node.op_type for node in result.model.graph.node)
    assert ops["ReduceMean"] == 0 and ops["GlobalAveragePool"] == SE_BLOCKS + 1
    assert result.squeeze_pool is not None and len(result.squeeze_pool.rewritten) == (1 if fused else SE_BLOCKS + 1)
    optimized = _ort_optimized(result.model, tmp_path)
    assert optimized[("com.microsoft", "QLinearGlobalAveragePool")] == SE_BLOCKS + 1
    assert not any(op in ("GlobalAveragePool", "ReduceMean") for _domain, op in optimized)  # none left in float


def test_fused_se_is_inlined_with_its_excitation_in_float(stock: onnx.ModelProto, calibration, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["onnxruntime"])
    model = result.model
    assert not any(node.domain == DOMAIN for node in model.graph.node) and not model.functions
    assert result.se_inlined == SE_BLOCKS and result.se_float_ops == 4 * SE_BLOCKS  # FC1, ReLU, FC2, Sigmoid
    assert result.se_ops_with_qdq == 0
    producers = {out: node for node in model.graph.node for out in node.output}
    float_ops = [node for node in model.graph.node if node.name.startswith("se_inlined/")]
    fcs = [node for node in float_ops if node.op_type == "Conv"]
    assert len(fcs) == 2 * SE_BLOCKS
    for fc in fcs:  # weights stay float (no DequantizeLinear feeds them); the Unsqueeze comes from the body
        assert all(producers[name].op_type != "DequantizeLinear" for name in fc.input[1:] if name in producers)
    optimized = _ort_optimized(model, tmp_path)
    convs = sum(node.op_type == "Conv" for node in stock.graph.node)
    assert optimized[("com.microsoft", "QLinearConv")] == convs - 2 * SE_BLOCKS  # the FCs run in float
    assert optimized[("com.microsoft", "QLinearSigmoid")] == 0  # so does the gate (ORT fuses it into FC2)
    assert optimized[("com.microsoft", "QLinearMul")] == SE_BLOCKS  # the scale X * gate is quantized
    assert optimized[("", "Mul")] == 0


def test_inlined_int8_agrees_with_fp32(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    model = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["onnxruntime"]).model
    images = np.concatenate(list(calibration))  # real digit images (random noise is out of distribution)
    feeds = {stock.graph.input[0].name: images}
    (want,) = session(stock).run(None, feeds)
    (got,) = session(model).run(None, feeds)
    assert (want.argmax(1) == got.argmax(1)).mean() >= 0.9
    cosine = float((want * got).sum() / np.linalg.norm(want) / np.linalg.norm(got))
    assert cosine > 0.99


def test_tensorrt_target_keeps_the_fused_node(stock: onnx.ModelProto, calibration) -> None:  # type: ignore[no-untyped-def]
    result = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["tensorrt"])
    ops = Counter(node.op_type for node in result.model.graph.node)
    assert ops["SqueezeExcitationResidual"] == SE_BLOCKS and result.se_inlined == 0
    assert result.se_ops_with_qdq == 0


def test_inlining_a_model_without_fused_nodes_is_a_no_op(stock: onnx.ModelProto) -> None:
    result = inline_fused_se(stock)
    assert result.model is stock and result.fused_nodes == 0 and result.float_ops == []
