"""INT8 gate folding (int8_fold.py, int8_build.py): on a trained model's INT8 build, through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.batch_parallel import BatchParallelSession
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions
from se_deploy.backends.onnxruntime.native.int8_build import int8_unavailable_reason, verify_int8
from se_deploy.backends.onnxruntime.native.int8_fold import fold_quantized_gates
from se_deploy.backends.onnxruntime.native.optimize import fix_batch, optimize_with_ort
from se_deploy.backends.onnxruntime.native.session import NativeSession
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.data.images import load_image, scan_image_folder
from tests.backends.onnxruntime.int8_engines import build_int8

MS = "com.microsoft"


@pytest.fixture(scope="module")
def int8_engine(
    tmp_path_factory: pytest.TempPathFactory, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> Path:
    output = tmp_path_factory.mktemp("int8_fold") / "engine"
    options = OnnxRuntimeOptions(batch_parallel="on")  # slices of batch-1 pieces
    build_int8(digits_models["se_resnet_tiny"], output, digits_folders["train"], samples=32, options=options)
    return output


@pytest.fixture(scope="module")
def optimized(int8_engine: Path, tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    model = onnx.load(str(int8_engine / "model.onnx"))
    return optimize_with_ort(fix_batch(model, 1), tmp_path_factory.mktemp("opt") / "optimized.onnx")


def _ops(model: onnx.ModelProto, op: str) -> int:
    return sum(n.op_type == op and n.domain == MS for n in model.graph.node)


def test_foldable_scales_leave_the_graph_and_the_last_block_says_why(optimized: onnx.ModelProto) -> None:
    assert _ops(optimized, "QLinearMul") == 4
    folded = fold_quantized_gates(optimized)
    # the tiny model's last block: ORT transposes its SE input to NCHW for the head's pool, after the squeeze
    assert [b.folded for b in folded.blocks] == [True, True, True, False]
    assert "ORT changed its layout" in folded.blocks[3].reason
    assert _ops(folded.model, "QLinearMul") == 1 and _ops(optimized, "QLinearMul") == 4  # the input is untouched
    # each folded block: one hoisted squeeze on conv3's input, conv3 writes the scaled output itself
    assert _ops(folded.model, "QLinearGlobalAveragePool") == _ops(optimized, "QLinearGlobalAveragePool")
    onnx.checker.check_model(folded.model)


def test_the_folded_graph_is_as_close_to_the_source_and_to_stock_as_required(
    int8_engine: Path, optimized: onnx.ModelProto, digits_models: dict[str, Path]
) -> None:
    source = onnx.load(str(digits_models["se_resnet_tiny"]))
    model = onnx.load(str(int8_engine / "model.onnx"))
    check, fidelity = verify_int8(source, model, fold_quantized_gates(optimized).model)
    assert check.passed, fidelity
    assert 0 < check.max_relative_error <= 0.25 and check.top1_agreement >= 0.75


def test_a_wrong_fold_fails_verification(
    int8_engine: Path, optimized: onnx.ModelProto, digits_models: dict[str, Path]
) -> None:
    """The check can fail: the same graph with the gate lost (conv3 back on its own w_scale)."""
    folded = fold_quantized_gates(optimized).model
    gated = [n for n in folded.graph.node if n.op_type == "Mul" and n.name.startswith("se_native/GateWeights")]
    ungated = {n.output[0]: n.input[1] for n in gated}  # (gate, conv3's own w_scale)
    assert len(ungated) == 3
    for node in folded.graph.node:
        if node.op_type == "QLinearConv" and node.input[4] in ungated:
            node.input[4] = ungated[node.input[4]]
    source, model = onnx.load(str(digits_models["se_resnet_tiny"])), onnx.load(str(int8_engine / "model.onnx"))
    check, fidelity = verify_int8(source, model, folded)
    assert not check.passed, fidelity


def test_int8_engine_serves_any_batch_on_its_batch_one_graph(
    int8_engine: Path, digits_folders: dict[str, Path]
) -> None:
    native = EngineDescription.read(int8_engine).native
    assert native is not None and native["kind"] == "int8-fold" and native["buckets"] == [1]
    assert native["fold_gate"]["folded_blocks"] == {"1": 3}
    runner = OnnxRuntimeRunner(int8_engine, threads=2)
    portable = OnnxRuntimeRunner(int8_engine / "model.onnx", threads=2)
    assert isinstance(runner.session, BatchParallelSession)
    images = scan_image_folder(digits_folders["test"]).images[::30][:9]
    digits = np.stack([load_image(image.path, runner.preprocessing) for image in images])
    got, want = runner.infer(digits), portable.infer(digits)
    assert len(set(want.argmax(1))) >= 3  # real digits exercise the model
    assert (got.argmax(1) == want.argmax(1)).mean() >= 7 / 9  # INT8 roundings moved, the answers did not
    assert np.abs(got - want).max() <= 0.25 * np.abs(want).max()
    # every image gets the answer it gets alone, whatever batch it is served in (a server batches freely)
    alone = np.concatenate([runner.infer(digits[i : i + 1]) for i in range(len(digits))])
    np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-5)
    one_thread = OnnxRuntimeRunner(int8_engine, threads=1)  # no slices: the native session runs batch-1 pieces
    assert isinstance(one_thread.session, NativeSession)
    np.testing.assert_allclose(one_thread.infer(digits), got, rtol=1e-5, atol=1e-5)
    assert one_thread.session.opened_buckets == [1]


def _first_block(model: onnx.ModelProto) -> tuple[onnx.NodeProto, onnx.NodeProto]:
    producer = {out: node for node in model.graph.node for out in node.output}
    mul = next(n for n in model.graph.node if n.op_type == "QLinearMul")
    return mul, producer[mul.input[0]]


def test_a_relu_folded_into_conv3_or_a_foreign_gate_is_not_folded(optimized: onnx.ModelProto) -> None:
    """The squeeze cannot be hoisted through a ReLU the quantizer folded into conv3's range (zero point 0)."""
    relu = onnx.ModelProto()
    relu.CopyFrom(optimized)
    mul, conv3 = _first_block(relu)
    zero = onnx.numpy_helper.from_array(np.uint8(0), "one_sided_zero")
    relu.graph.initializer.append(zero)
    conv3.input[7] = mul.input[2] = zero.name
    blocks = fold_quantized_gates(relu).blocks
    assert not blocks[0].folded and "one-sided" in blocks[0].reason and blocks[1].folded
    foreign = onnx.ModelProto()
    foreign.CopyFrom(optimized)
    mul, _conv3 = _first_block(foreign)
    squeeze = next(n for n in foreign.graph.node if n.op_type == "QLinearGlobalAveragePool")
    fc1 = next(n for n in foreign.graph.node if squeeze.output[0] in n.input)
    mul.input[3] = fc1.output[0]  # a gate straight from FC1: no FC2 back to conv3's channels
    blocks = fold_quantized_gates(foreign).blocks
    assert not blocks[0].folded and "not computed from FC1" in blocks[0].reason


def test_int8_fold_is_skipped_where_it_cannot_apply(
    tmp_path: Path, int8_engine: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    model = onnx.load(str(int8_engine / "model.onnx"))
    assert int8_unavailable_reason(model) is None
    assert "fixed batch of 4" in str(int8_unavailable_reason(fix_batch(model, 4)))
    source, calib = digits_models["se_resnet_tiny"], digits_folders["train"]
    portable = build_int8(source, tmp_path / "p", calib, samples=8, options=OnnxRuntimeOptions(native=False))
    assert portable.description.native is None
    no_fold = build_int8(
        source, tmp_path / "n", calib, samples=8, options=OnnxRuntimeOptions(fold_gate=False)
    ).description
    assert no_fold.native is None and any("--no-fold" in note for note in no_fold.notes)
