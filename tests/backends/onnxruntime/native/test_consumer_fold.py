"""Gate folded into the depthwise conv after the SE block (native/consumer_fold.py): structure and layout
arithmetic at both NCHWc block sizes, numbers on this CPU, every fallback reason."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.consumer_fold import DENSE_TARGET, FOLD_TARGET, POINTWISE_TARGET
from se_deploy.backends.onnxruntime.native.fold import rewrite_native_folded
from se_deploy.backends.onnxruntime.native.platform import current_platform

from .synthetic import optimized_depthwise_se_graph


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output}


@pytest.mark.parametrize("block", [8, 16])
@pytest.mark.parametrize("n", [1, 3])
def test_gate_scales_the_depthwise_filter_and_the_scaling_pass_is_gone(block: int, n: int) -> None:
    c = 2 * block
    model, shapes = optimized_depthwise_se_graph(n, c, 6, block)
    result = rewrite_native_folded(model, shapes, block, fold_batched=True)
    (outcome,) = result.blocks
    assert outcome.native and outcome.folded and outcome.fold_target == FOLD_TARGET
    out = result.model
    producers, inits = _producers(out), {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    source_inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert not [node for node in out.graph.node if node.op_type == "Mul" and "X" in node.input]
    (dw,) = [node for node in out.graph.node if node.op_type == "Conv" and _attrs(node)["kernel_shape"] == [3, 3]]
    attrs = _attrs(dw)
    assert attrs["group"] == n * c and attrs["strides"] == [2, 2] and attrs["activation"] == b"Relu"
    source = dw.input[0] if n == 1 else producers[dw.input[0]].input[0]
    assert source == "xb"  # the pointwise conv's blocked output itself: no reorder, no scaling conv
    np.testing.assert_array_equal(inits[dw.input[2]], np.tile(source_inits["bd"], n))
    if n > 1:
        (reshape_out,) = [node for node in out.graph.node if dw.output[0] in node.input]
        assert reshape_out.output[0] == "d_b" and inits[reshape_out.input[1]].tolist() == [n, c, 0, 0]

    # the layout arithmetic, evaluated in numpy: Reshape(Mul(w_view, Reshape(gate))) must be s[n, c] * W[c], blocked
    reshape_w = producers[dw.input[1]]
    mul = producers[reshape_w.input[0]]
    w_view = next(inits[i] for i in mul.input if i in inits)
    gate_reshape = producers[next(i for i in mul.input if i not in inits)]
    assert gate_reshape.input[0] == "g_b"  # ORT's blocked gate: the same bytes as [N, C, 1, 1]
    gate = np.random.default_rng(5).uniform(size=(n, c)).astype(np.float32)
    scaled = (w_view * gate.reshape(inits[gate_reshape.input[1]])).reshape(inits[reshape_w.input[1]])
    plain = source_inits["wd"].reshape(c // block, 3, 3, block).transpose(0, 3, 1, 2).reshape(c, 3, 3)
    for sample in range(n):
        want = (gate[sample][:, None, None] * plain).reshape(c // block, block, 3, 3).transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(scaled[sample * c : (sample + 1) * c].reshape(-1), want.reshape(-1))


def test_without_bias_the_folded_conv_has_none() -> None:
    model, shapes = optimized_depthwise_se_graph(1, 16, 6, 8, bias=False)
    result = rewrite_native_folded(model, shapes, 8)
    assert result.blocks[0].folded
    (dw,) = [
        node for node in result.model.graph.node if node.op_type == "Conv" and _attrs(node)["kernel_shape"] == [3, 3]
    ]
    assert len(dw.input) == 2 or not dw.input[2]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"group": 8}, "the conv after the SE block is neither depthwise nor ungrouped (group 8)"),
        ({"pointwise_out": 40}, "the conv's weight is not smaller than the activation (Cout*kh*kw=40*1 >= H*W=36)"),
    ],
)
def test_each_fallback_keeps_the_scaling_conv_and_says_why(change: dict, reason: str) -> None:
    model, shapes = optimized_depthwise_se_graph(1, 16, 6, 8, **change)
    (outcome,) = rewrite_native_folded(model, shapes, 8).blocks
    assert outcome.native and not outcome.folded and outcome.consumer_fold_reason == reason
    assert outcome.fold_reason  # conv3 folding was refused first (the pointwise conv has a fused Relu)


def test_a_second_reader_of_the_se_output_blocks_folding() -> None:
    model, shapes = optimized_depthwise_se_graph(1, 16, 6, 8)
    model.graph.output.append(helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16, 6, 6]))
    (outcome,) = rewrite_native_folded(model, shapes, 8).blocks
    assert not outcome.folded and outcome.consumer_fold_reason == "the SE output does not feed one blocked conv alone"


def test_a_non_constant_filter_blocks_folding() -> None:
    model, shapes = optimized_depthwise_se_graph(1, 16, 6, 8)
    (weight,) = [i for i in model.graph.initializer if i.name == "wd"]
    model.graph.initializer.remove(weight)
    model.graph.input.append(helper.make_tensor_value_info("wd", onnx.TensorProto.FLOAT, [16, 1, 3, 3]))
    (outcome,) = rewrite_native_folded(model, shapes, 8).blocks
    assert outcome.consumer_fold_reason == "the conv after the SE block has no constant weight"


def test_batch_folding_off_folds_at_batch_one_only() -> None:
    model, shapes = optimized_depthwise_se_graph(2, 16, 6, 8)
    (outcome,) = rewrite_native_folded(model, shapes, 8, fold_batched=False).blocks
    assert not outcome.folded and outcome.consumer_fold_reason.startswith(
        "batch 2: the folded filter would be per sample"
    )


@pytest.mark.parametrize("block", [8, 16])
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("kernel", [1, 3])
def test_gate_scales_the_input_channels_of_an_ungrouped_conv_after_the_block(block: int, n: int, kernel: int) -> None:
    """1x1 (MobileNetV3, EfficientNet) or 3x3 (SE-VGG) conv after the SE: the gate scales its input channels."""
    c, out_c = 2 * block, (3 if kernel == 1 else 1) * block
    model, shapes = optimized_depthwise_se_graph(n, c, 16, block, pointwise_out=out_c, kernel=kernel)
    rewritten = rewrite_native_folded(model, shapes, block, fold_batched=True)
    (outcome,) = rewritten.blocks
    assert outcome.folded and outcome.fold_target == (POINTWISE_TARGET if kernel == 1 else DENSE_TARGET)
    out = rewritten.model
    producers, inits = _producers(out), {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    source_inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    (conv,) = [node for node in out.graph.node if node.name.startswith("se_native/FoldedConv")]
    attrs = _attrs(conv)
    assert attrs["group"] == n and attrs["kernel_shape"] == [kernel, kernel]
    assert conv.input[0] == "xb" if n == 1 else producers[conv.input[0]].input[0] == "xb"
    if kernel == 3:  # the conv keeps its own padding and fused activation
        assert attrs["pads"] == [1, 1, 1, 1] and attrs["activation"] in (b"Relu", "Relu")
    reshape_w = producers[conv.input[1]]
    mul = producers[reshape_w.input[0]]
    w_view = next(inits[i] for i in mul.input if i in inits)
    gate_reshape = producers[next(i for i in mul.input if i not in inits)]
    gate = np.random.default_rng(6).uniform(size=(n, c)).astype(np.float32)
    scaled = (w_view * gate.reshape(inits[gate_reshape.input[1]])).reshape(inits[reshape_w.input[1]])
    assert scaled.shape == (n * out_c, c, kernel, kernel)
    k = kernel
    blocked = source_inits["wd"].reshape(out_c // block, c // block, k, k, block, block)  # [Ob, Cb, kh, kw, bi, bo]
    plain = blocked.transpose(0, 5, 1, 4, 2, 3).reshape(out_c, c, k, k)
    for sample in range(n):
        want = (plain * gate[sample][None, :, None, None]).reshape(out_c // block, block, c // block, block, k, k)
        want = want.transpose(0, 2, 4, 5, 3, 1)  # back to ORT's OIHWBiBo bytes
        np.testing.assert_array_equal(scaled[sample * out_c : (sample + 1) * out_c].reshape(-1), want.reshape(-1))


def test_a_3x3_conv_whose_weight_outweighs_the_activation_is_not_folded() -> None:
    model, shapes = optimized_depthwise_se_graph(1, 16, 8, 8, pointwise_out=16, kernel=3)  # 16*9 >= 8*8
    (outcome,) = rewrite_native_folded(model, shapes, 8).blocks
    assert not outcome.folded
    assert outcome.consumer_fold_reason == (
        "the conv's weight is not smaller than the activation (Cout*kh*kw=16*9 >= H*W=64)"
    )


@pytest.mark.parametrize(
    ("n", "variant"),
    [
        (1, "depthwise"),
        (2, "depthwise"),
        (2, "depthwise_sum"),
        (1, "pointwise"),
        (2, "pointwise"),
        (1, "3x3"),
        (2, "3x3"),
    ],
)
def test_folded_graph_computes_the_same_on_this_cpu(n: int, variant: str) -> None:
    import onnxruntime as ort

    block = current_platform().nchwc_block
    if block is None:
        pytest.skip("ONNX Runtime uses no NCHWc layout on this CPU")
    c = 4 * block
    hw = 13 if variant == "3x3" else 7  # the 3x3 conv's weight must be smaller than the activation to fold
    pointwise = {"pointwise_out": 2 * block} if variant == "pointwise" else {}
    pointwise |= {"pointwise_out": block, "kernel": 3} if variant == "3x3" else {}
    model, shapes = optimized_depthwise_se_graph(n, c, hw, block, fused_sum=variant == "depthwise_sum", **pointwise)
    rewritten = rewrite_native_folded(model, shapes, block, fold_batched=True)
    assert rewritten.blocks[0].folded
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    feeds = {"x": np.random.default_rng(3).standard_normal((n, 4 * block, hw, hw)).astype(np.float32)}
    want, got = (
        ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
        for m in (model, rewritten.model)
    )
    assert want.shape[0] == n
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
