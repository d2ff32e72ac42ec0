"""The canonicalizing pass: each foreign spelling is matched after it, and it changes no value (checked
through ONNX Runtime on every tensor the two graphs share, not only the outputs)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from se_deploy.onnx_compare import compare_models, session
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.normalize import normalize
from se_deploy.rewrite.surgery import fuse_se, strip_se
from tests.rewrite.foreign_graphs import ForeignSE


def _all_values(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    names = [out for node in model.graph.node for out in node.output if out]
    known = {v.name for v in model.graph.output}
    exposed.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in known)
    values = session(exposed).run(None, feeds)
    return dict(zip([v.name for v in exposed.graph.output], values, strict=True))


def _assert_same_values(original: onnx.ModelProto, rewritten: onnx.ModelProto) -> int:
    feeds = {"X": np.random.default_rng(1).standard_normal((1, 3, 6, 10)).astype(np.float32)}
    want, got = _all_values(original, feeds), _all_values(rewritten, feeds)
    shared = sorted(set(want) & set(got))
    for name in shared:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert [v.name for v in rewritten.graph.output] == [v.name for v in original.graph.output]
    assert [v.name for v in rewritten.graph.input] == [v.name for v in original.graph.input]
    return len(shared)


FORMS = {
    "paddle_bias_1c11": (ForeignSE(), "conv_bias_add"),
    "bias_c11_commuted": (ForeignSE(bias_shape="c11"), "conv_bias_add"),
    "bias_reshaped_constant": (ForeignSE(bias_shape="reshape"), "conv_bias_add"),
    "identities_everywhere": (ForeignSE(identities=True), "identity"),
    "inference_dropout": (ForeignSE(dropout=True, bias_shape="conv"), "dropout"),
    "noop_cast": (ForeignSE(noop_cast=True, bias_shape="conv"), "cast_to_same_type"),
    "squeeze_unsqueeze_pair": (ForeignSE(squeeze_pair=True, bias_shape="conv"), "squeeze_unsqueeze_pair"),
    "squeeze_pair_opset11_attributes": (ForeignSE(squeeze_pair=True, opset=11), "squeeze_unsqueeze_pair"),
    "separate_channel_scale": (ForeignSE(scale_mul=True), "conv_scale_mul"),
}


@pytest.mark.parametrize("name", list(FORMS))
def test_foreign_form_is_missed_raw_and_matched_after_normalizing(name: str) -> None:
    spec, rewrite = FORMS[name]
    model = spec.build()
    result = normalize(model)
    assert result.changes.get(rewrite, 0) >= 1, result.changes
    report = find_se_blocks(result.model)
    assert len(report.blocks) == 1 and report.near_misses == (), report
    block = report.blocks[0]
    assert (block.channels, block.reduced_channels) == (8, 2)
    assert _assert_same_values(model, result.model) > 3
    fused = fuse_se(model).model
    assert [n.op_type for n in fused.graph.node].count("SqueezeExcitation") == 1
    assert compare_models(model, fused).passed


def test_separate_bias_was_a_near_miss_before_normalizing() -> None:
    raw = find_se_blocks(ForeignSE().build())
    assert raw.blocks == ()
    assert any("Add" in miss.reason for miss in raw.near_misses), raw


def test_paddle_hard_sigmoid_keeps_its_slope_in_the_fused_op() -> None:
    block = fuse_se(ForeignSE().build()).report.blocks[0]
    assert block.gate == "hard_sigmoid" and block.gate_alpha == pytest.approx(0.2) and block.gate_beta == 0.5


def test_a_vector_added_along_width_is_not_a_bias() -> None:
    model = ForeignSE(bias_shape="c", spatial=(1, 2)).build()
    result = normalize(model)
    assert "conv_bias_add" not in result.changes
    assert find_se_blocks(result.model).blocks == ()


def test_classifier_head_is_not_a_near_miss() -> None:
    report = find_se_blocks(normalize(ForeignSE(head=True, opset=14).build()).model)
    assert len(report.blocks) == 1 and report.near_misses == (), report


def test_unsorted_graph_is_sorted_before_rewriting() -> None:
    model = ForeignSE(shuffle=True).build()
    with pytest.raises(onnx.checker.ValidationError, match="topologically sorted"):
        onnx.checker.check_model(model)
    fused = fuse_se(model).model
    onnx.checker.check_model(fused)
    stripped = strip_se(model).model
    onnx.checker.check_model(stripped)
    assert compare_models(ForeignSE().build(), fused).passed


@pytest.mark.parametrize("opset", range(10, 22))
def test_every_opset_clip_gate_fuses_exactly(opset: int) -> None:
    """Clip bounds as attributes (opset < 11) and as inputs (11+); hard swish heads from 14."""
    model = ForeignSE(opset=opset, gate="clip", head=opset >= 14, identities=True).build()
    fused = fuse_se(model)
    assert len(fused.report.blocks) == 1 and fused.report.near_misses == (), fused.report
    assert fused.report.blocks[0].gate_alpha == pytest.approx(1 / 6)
    onnx.checker.check_model(fused.model, full_check=True)
    assert compare_models(model, fused.model).passed


def test_graph_outputs_keep_their_producers_when_they_are_no_ops() -> None:
    model = ForeignSE(identities=True).build()
    last_identity = next(n for n in reversed(model.graph.node) if n.op_type == "Identity")
    model.graph.output.append(onnx.ValueInfoProto(name=last_identity.output[0]))
    result = normalize(model)
    assert last_identity.output[0] in {out for n in result.model.graph.node for out in n.output}
    _assert_same_values(model, result.model)
