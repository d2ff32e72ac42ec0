"""INT8 builds for ONNX Runtime: GAP squeeze everywhere, fused SE inlined before quantizing, and ONNX
Runtime's own optimized graph really fuses the squeeze into a quantized pooling op."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from se_deploy.onnx_compare import session
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.precision.int8 import QUANT_PRESETS, quantize_int8
from se_deploy.precision.se_qdq import inline_fused_se
from se_deploy.preprocessing import Preprocessing
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


def test_fused_int8_for_ort_is_the_stock_int8_graph(stock: onnx.ModelProto, calibration, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Fused INT8 can never be slower than stock INT8 on ONNX Runtime: ORT runs the very same graph."""
    fused = quantize_int8(fuse_se(stock).model, calibration, settings=QUANT_PRESETS["onnxruntime"])
    plain = quantize_int8(stock, calibration, settings=QUANT_PRESETS["onnxruntime"])
    assert not any(node.domain == DOMAIN for node in fused.model.graph.node) and not fused.model.functions
    assert DOMAIN not in {o.domain for o in fused.model.opset_import}
    assert fused.se_inlined == SE_BLOCKS and fused.se_ops_with_qdq > 0  # the SE ops are quantized like stock's

    def ops(model: onnx.ModelProto) -> Counter[str]:
        return Counter(node.op_type for node in model.graph.node)

    assert ops(fused.model) == ops(plain.model)
    (tmp_path / "fused").mkdir()
    (tmp_path / "stock").mkdir()
    optimized = _ort_optimized(fused.model, tmp_path / "fused")
    assert optimized == _ort_optimized(plain.model, tmp_path / "stock")
    assert optimized[("com.microsoft", "QLinearMul")] == SE_BLOCKS and optimized[("", "Mul")] == 0  # scale
    assert optimized[("com.microsoft", "QLinearAdd")] == SE_BLOCKS and optimized[("", "Add")] == 0  # residual


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
    assert result.model is stock and result.fused_nodes == 0


def test_inlined_weights_are_initializers_again(stock: onnx.ModelProto) -> None:
    """The bodies' Unsqueeze of W1/W2 is folded: the quantizer must see conv weights, not activations."""
    result = inline_fused_se(fuse_se(stock).model)
    ops = Counter(node.op_type for node in result.model.graph.node)
    assert result.fused_nodes == SE_BLOCKS and ops["Unsqueeze"] == 0 and ops["Constant"] == 0
    read = {name for node in result.model.graph.node for name in node.input}
    assert all(init.name in read for init in result.model.graph.initializer)  # no dead (C, Cr) copies left
    assert all(node.name for node in result.model.graph.node)
    feeds = {stock.graph.input[0].name: np.random.default_rng(0).standard_normal((2, 3, 32, 32), np.float32)}
    np.testing.assert_allclose(
        session(result.model).run(None, feeds)[0], session(stock).run(None, feeds)[0], rtol=1e-4, atol=1e-4
    )
