"""Gate folding (native/fold.py): structure at both NCHWc block sizes, numbers on this CPU, every fallback reason.

Block 16 (AVX-512) graphs are rewritten and checked for structure and layout arithmetic here; graphs only
run at this CPU's block size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from se_deploy.backends.onnxruntime.native.build import build_native
from se_deploy.backends.onnxruntime.native.fold import rewrite_native_folded
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.backends.onnxruntime.native.rewrite import block_pointwise_weight, unblock_pointwise_weight

from .synthetic import NCHWC, optimized_concat_se_graph, optimized_se_graph


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _node(model: onnx.ModelProto, output: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if output in n.output)


@pytest.mark.parametrize("block", [8, 16])
@pytest.mark.parametrize("residual", [True, False])
def test_gate_becomes_conv3_weights_and_the_residual_stays_fused(block: int, residual: bool) -> None:
    c, hw = 16, 5  # Cin = 16 < H*W = 25: the weight is the smaller tensor
    model, shapes = optimized_se_graph(1, c, hw, block, residual=residual)
    result = rewrite_native_folded(model, shapes, block)
    (outcome,) = result.blocks
    assert outcome.native and outcome.folded and outcome.hoisted and outcome.fold_reason == ""
    out = result.model
    nodes = out.graph.node
    producers = {o: n for n in nodes for o in n.output}
    inits = _inits(out)
    ops = [(n.domain, n.op_type) for n in nodes]
    assert ("", "ReduceMean") not in ops and ("", "Add") not in ops and ("", "Relu") not in ops
    assert not [n for n in nodes if n.op_type == "Conv" and _attrs(n).get("group", 1) > 1]  # no scaling pass
    assert not [n for n in nodes if n.op_type == "ReorderOutput" and n.input[0] in ("xb", "g_b")]
    # conv3 reads x itself, with the gate-scaled weight, the residual as its Sum and the Relu fused
    (conv3,) = [n for n in nodes if n.domain == NCHWC and n.op_type == "Conv" and n.input[0] == "xin_b"]
    assert _attrs(conv3)["group"] == 1 and _attrs(conv3)["kernel_shape"] == [1, 1]
    if residual:
        assert conv3.input[3] == "r_b" and _attrs(conv3)["activation"].decode() == "Relu"
    else:
        assert len(conv3.input) == 3 and "activation" not in _attrs(conv3)
    reshape_w = producers[conv3.input[1]]
    assert reshape_w.op_type == "Reshape" and inits[reshape_w.input[1]].tolist() == [c, c, 1, 1]
    mul = producers[reshape_w.input[0]]
    assert mul.op_type == "Mul"
    w3 = _inits(model)["w3"]
    np.testing.assert_array_equal(inits[mul.input[0]], w3.reshape(1, c // block, c, block))
    gate_view = producers[mul.input[1]]
    assert gate_view.input[0] == "g_b" and inits[gate_view.input[1]].tolist() == [1, c // block, 1, block]
    bias_mul = producers[conv3.input[2]]
    np.testing.assert_array_equal(inits[bias_mul.input[1]], _inits(model)["b3"])
    # FC1 reads the pooled conv3 input and has absorbed W3, b3
    fc1 = next(
        n for n in nodes if n.op_type == "Conv" and _attrs(n).get("activation") == b"Relu" and n.output != conv3.output
    )
    pool = producers[fc1.input[0]]
    assert (pool.domain, pool.op_type, pool.input[0]) == (NCHWC, "GlobalAveragePool", "xin_b")
    w1 = unblock_pointwise_weight(_inits(model)["w1"], block).astype(np.float64)
    plain_w3 = unblock_pointwise_weight(w3, block).astype(np.float64)
    np.testing.assert_allclose(unblock_pointwise_weight(inits[fc1.input[1]], block), w1 @ plain_w3, rtol=1e-5)
    np.testing.assert_allclose(inits[fc1.input[2]], w1 @ _inits(model)["b3"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("block", [8, 16])
def test_scaling_the_blocked_weight_bytes_by_the_gate_view_is_diag_s_times_w(block: int) -> None:
    """The Mul the fold writes, done in numpy on ORT's OIHWBiBo bytes, for both block sizes and a batch of 3."""
    rng = np.random.default_rng(0)
    n, out_c, in_c = 3, 4 * block, 2 * block
    plain = rng.standard_normal((out_c, in_c)).astype(np.float32)
    gates = rng.random((n, out_c)).astype(np.float32)
    blocked = block_pointwise_weight(plain, block).reshape(1, out_c // block, in_c, block)
    scaled = (blocked * gates.reshape(n, out_c // block, 1, block)).reshape(n * out_c, in_c, 1, 1)
    for sample in range(n):
        part = scaled[sample * out_c : (sample + 1) * out_c]  # group `sample` of the group=N conv
        np.testing.assert_allclose(unblock_pointwise_weight(part, block), gates[sample][:, None] * plain, rtol=1e-6)


def test_batched_folding_is_one_grouped_conv_over_the_batch() -> None:
    n, c, hw, block = 2, 16, 5, 8
    model, shapes = optimized_se_graph(n, c, hw, block)
    result = rewrite_native_folded(model, shapes, block, fold_batched=True)
    assert result.blocks[0].folded
    nodes = result.model.graph.node
    (conv3,) = [n_ for n_ in nodes if n_.op_type == "Conv" and _attrs(n_).get("group") == n]
    inits = _inits(result.model)
    producers = {o: x for x in nodes for o in x.output}
    assert inits[producers[conv3.input[0]].input[1]].tolist() == [1, n * c, hw, hw]
    assert inits[producers[conv3.input[1]].input[1]].tolist() == [n * c, c, 1, 1]
    assert inits[producers[conv3.input[3]].input[1]].tolist() == [1, n * c, hw, hw]


def _session(model: onnx.ModelProto):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    ("n", "residual", "blocked_squeeze", "scale"),
    [
        (1, True, False, None),
        (1, False, False, None),
        (2, True, False, None),
        (2, True, True, None),
        (2, True, False, 0.2),
    ],
)
def test_folded_synthetic_graphs_compute_the_same_on_this_cpu(
    n: int, residual: bool, blocked_squeeze: bool, scale: float | None
) -> None:
    block = current_platform().nchwc_block
    if block is None:
        pytest.skip("ONNX Runtime uses no NCHWc layout on this CPU")
    # Cin = 2 * block < H*W = 49 at both block sizes: the fold pays, so it is applied
    model, shapes = optimized_se_graph(
        n, 2 * block, 7, block, residual=residual, blocked_squeeze=blocked_squeeze, residual_scale=scale
    )
    folded = rewrite_native_folded(model, shapes, block, fold_batched=True)
    assert folded.blocks[0].folded and folded.blocks[0].residual_scale == (scale is not None)
    rng = np.random.default_rng(5)
    feeds = {
        i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
        for i in model.graph.input
    }
    want, got = (_session(m).run(None, feeds)[0] for m in (model, folded.model))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))


def _graph_input(model: onnx.ModelProto, name: str) -> None:
    """Turn initializer ``name`` into a graph input (a run-time tensor, not a constant)."""
    (init,) = [i for i in model.graph.initializer if i.name == name]
    model.graph.input.append(helper.make_tensor_value_info(name, init.data_type, list(init.dims)))
    model.graph.initializer.remove(init)


def _set(output: str, **attrs: object) -> Callable[[onnx.ModelProto], None]:
    def mutate(model: onnx.ModelProto) -> None:
        node = _node(model, output)
        for name, value in attrs.items():
            kept = [a for a in node.attribute if a.name != name]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute(name, value)])

    return mutate


def _add_sum(model: onnx.ModelProto) -> None:
    _node(model, "xb").input.append("xin_b")


def _x_is_an_output(model: onnx.ModelProto) -> None:
    model.graph.output.append(helper.make_tensor_value_info("X", TensorProto.FLOAT, None))


def _narrow_w3(model: onnx.ModelProto) -> None:
    (init,) = [i for i in model.graph.initializer if i.name == "w3"]
    init.CopyFrom(numpy_helper.from_array(np.ones((16, 12, 1, 1), np.float32), "w3"))


def _second_squeeze_reader(model: onnx.ModelProto) -> None:
    model.graph.node.append(helper.make_node("Identity", ["mean"], ["mean_copy"]))
    model.graph.output.append(helper.make_tensor_value_info("mean_copy", TensorProto.FLOAT, None))


def _fc1_bias_input(model: onnx.ModelProto) -> None:
    _node(model, "h_b").input.append("b1")
    model.graph.input.append(helper.make_tensor_value_info("b1", TensorProto.FLOAT, [8]))


FALLBACKS: dict[str, tuple[Callable[[onnx.ModelProto], None], str]] = {
    "activation": (_set("xb", activation="Relu"), "conv3 has a fused activation, so the gate cannot move inside it"),
    "sum": (_add_sum, "conv3 already has a fused sum"),
    "kernel": (_set("xb", kernel_shape=[3, 3]), "conv3 is not a 1x1 conv (kernel [3, 3])"),
    "group": (_set("xb", group=2), "conv3 is a grouped conv"),
    "stride": (_set("xb", strides=[2, 2]), "conv3 has a stride, dilation or padding"),
    "auto_pad": (_set("xb", auto_pad="SAME_UPPER"), "conv3 has auto padding"),
    "x_read_elsewhere": (_x_is_an_output, "conv3's output is read by more than the SE block"),
    "w3_dynamic": (lambda m: _graph_input(m, "w3"), "conv3's weight is not a constant [C, Cin, 1, 1] tensor"),
    "cin_unaligned": (_narrow_w3, "conv3 has Cin=12 input channels, not a multiple of the NCHWc block size 8"),
    "b3_dynamic": (lambda m: _graph_input(m, "b3"), "conv3's bias is not a constant"),
    "squeeze_shared": (
        _second_squeeze_reader,
        "the squeeze does not feed one blocked 1x1 FC conv alone (FC1 cannot absorb conv3)",
    ),
    "w1_dynamic": (lambda m: _graph_input(m, "w1"), "FC1's weight is not a constant blocked [Cr, C, 1, 1] tensor"),
    "b1_dynamic": (_fc1_bias_input, "FC1's bias is not a constant"),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_each_unfoldable_block_falls_back_to_the_scaling_conv_with_its_reason(case: str) -> None:
    mutate, reason = FALLBACKS[case]
    model, shapes = optimized_se_graph(1, 16, 5, 8)
    assert rewrite_native_folded(model, shapes, 8).blocks[0].folded  # foldable before the change
    mutate(model)
    result = rewrite_native_folded(model, shapes, 8)
    (outcome,) = result.blocks
    assert outcome.native and not outcome.folded and outcome.fold_reason == reason
    assert [n for n in result.model.graph.node if n.op_type == "Conv" and _attrs(n).get("group") == 16]


@pytest.mark.parametrize(
    ("graph", "reason"),
    [
        ("batch2", "batch 2: the folded weight would be per sample (folding is applied at batch 1)"),
        ("small_image", "the weight is not smaller than the activation (Cin=16 >= H*W=9)"),
        ("concat", "the SE input is not the output of a blocked (NCHWc) conv in ORT's graph"),
    ],
)
def test_batch_size_cost_and_non_conv_inputs_fall_back_with_the_reason(graph: str, reason: str) -> None:
    if graph == "concat":
        model, shapes = optimized_concat_se_graph(1, (8, 8), 5, 8)
    else:
        model, shapes = optimized_se_graph(2 if graph == "batch2" else 1, 16, 3 if graph == "small_image" else 5, 8)
    (outcome,) = rewrite_native_folded(model, shapes, 8).blocks
    assert outcome.native and not outcome.folded and outcome.fold_reason == reason


def test_without_folding_the_rewrite_is_unchanged() -> None:
    model, shapes = optimized_se_graph(1, 16, 5, 8)
    (outcome,) = rewrite_native_folded(model, shapes, 8, fold=False).blocks
    assert outcome.native and not outcome.folded and outcome.fold_reason == ""


@pytest.fixture(scope="module")
def wide_tiny_se_resnet(tmp_path_factory: pytest.TempPathFactory) -> onnx.ModelProto:
    """A tiny SE-ResNet-50 of width 16 (conv3 inputs 16..128): block-aligned at 8 and 16, so the fold is
    exercised on AVX2 and AVX-512 alike (the digits model's width 8 is not a multiple of 16)."""
    import torch

    from se_deploy.export.random_weights import fit_batch_norm_statistics
    from se_deploy.export.torch_to_onnx import export_onnx
    from se_deploy.models.resnet import build_resnet

    torch.manual_seed(0)
    model = build_resnet(50, se=True, num_classes=10, width=16, layers=(1, 1, 1, 1))
    fit_batch_norm_statistics(model, 32, seed=0, batch=16)  # realistic activations, not BN's identity stats
    path = tmp_path_factory.mktemp("wide_tiny") / "model.onnx"
    export_onnx(model, path, image_size=32)
    return onnx.load(str(path))


@pytest.mark.skipif(current_platform().nchwc_block is None, reason="ONNX Runtime uses no NCHWc layout on this CPU")
@pytest.mark.parametrize("batched", [False, True])
def test_folded_tiny_se_resnet_matches_stock_ort(wide_tiny_se_resnet: onnx.ModelProto, batched: bool) -> None:
    """A real export: folded graphs per bucket, verified against stock ORT by the build (abs error, top-1)."""
    native = build_native(wide_tiny_se_resnet, max_batch=2, fold_batched=batched)
    # the first stage folds (Cin 16 < H*W 64); the later ones are too small an image for it to pay
    assert native.folded == ({1: 1, 2: 1} if batched else {1: 1, 2: 0})
    assert [b.folded for b in native.blocks] == [True, False, False, False]
    assert all(v.passed and v.max_abs_error < 1e-5 and v.top1_agreement == 1.0 for v in native.verification), (
        native.verification
    )
    # stages 2 and 3 with their reason, one note each for all buckets; unbatched, batch 2 gets its own reason
    not_folded = [note for note in native.notes if "gate not folded into conv3" in note]
    if batched:
        assert len(not_folded) == 2 and all(" at every batch bucket: " in note for note in not_folded)
    else:
        assert len(not_folded) == 3 and sum(" at batch 1: " in note for note in not_folded) == 2
        assert "3 SE blocks" in not_folded[2] and "at batch 2: gate not folded into conv3 (batch 2: " in not_folded[2]
    assert native.to_dict()["fold_gate"]["folded_blocks"] == {"1": 1, "2": native.folded[2]}


def test_the_digits_model_folds_what_this_block_size_allows(digits_models: dict[str, Path]) -> None:
    """Width 8: its first stage folds at block 8 (AVX2); at block 16 (AVX-512) Cin=8 is refused with the reason."""
    block = current_platform().nchwc_block
    if block is None:
        pytest.skip("ONNX Runtime uses no NCHWc layout on this CPU")
    native = build_native(onnx.load(str(digits_models["se_resnet_tiny"])), max_batch=1)
    first = native.blocks[0]
    if block == 8:
        assert first.folded and native.folded == {1: 1}
    else:
        assert not first.folded and native.folded == {1: 0}
        assert first.fold_reason == f"conv3 has Cin=8 input channels, not a multiple of the NCHWc block size {block}"
    assert all(v.passed for v in native.verification)
