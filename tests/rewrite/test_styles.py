"""Models in the style of timm and torchvision, with both exporters, FP32 and FP16: inspect counts
exactly the SE modules of the PyTorch model, fuse matches, strip gives a runnable twin."""

from __future__ import annotations

import onnx
import pytest
import torch

from se_deploy.onnx_compare import compare_models, random_inputs, session
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se, strip_se
from tests.rewrite.styles import STYLES, count_se, export

EXPECTED = {  # (activation, gate) of the styles' SE modules
    "se_resnet": {("relu", "sigmoid")},
    "se_resnext": {("relu", "sigmoid")},
    "efficientnet_b0": {("silu", "sigmoid")},
    "mobilenetv3": {("relu", "hard_sigmoid")},
    "regnety": {("relu", "sigmoid")},
    "linear_se": {("relu", "sigmoid")},
}
RESIDUAL_STYLES = {"se_resnet", "se_resnext"}  # SE right before the residual Add(+ReLU)


@pytest.fixture(scope="module", params=["dynamo", "legacy"])
def exporter(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("style", list(STYLES))
def test_inspect_counts_every_se_module_and_nothing_else(style: str, exporter: str) -> None:
    torch.manual_seed(0)
    module = STYLES[style]()
    model = export(module, exporter)
    report = find_se_blocks(model, residual=True)
    assert len(report.blocks) == count_se(module)
    assert report.near_misses == ()
    assert {(b.activation, b.gate) for b in report.blocks} == EXPECTED[style]
    assert all((b.residual is not None) == (style in RESIDUAL_STYLES) for b in report.blocks)

    fused = fuse_se(model).model
    onnx.checker.check_model(fused)
    assert sum(n.domain == "se_deploy" for n in fused.graph.node) == count_se(module)
    comparison = compare_models(model, fused)
    assert comparison.passed, comparison.to_dict()

    stripped = strip_se(model).model
    assert find_se_blocks(stripped).blocks == ()
    feeds = random_inputs(model, 2, seed=0)
    assert [o.shape for o in session(stripped).run(None, feeds)] == [o.shape for o in session(model).run(None, feeds)]


@pytest.mark.parametrize("style", ["se_resnet", "efficientnet_b0", "mobilenetv3"])
def test_fp16_exports_match_too(style: str, exporter: str) -> None:
    torch.manual_seed(0)
    module = STYLES[style]()
    model = export(module, exporter, half=True)
    report = find_se_blocks(model)
    assert len(report.blocks) == count_se(module)
    assert {b.dtype for b in report.blocks} == {"float16"}
    assert compare_models(model, fuse_se(model).model, atol=1e-2, rtol=1e-2).passed


def test_zoo_se_mobilenet_blocks_are_all_found_and_fuse() -> None:
    from se_deploy.models import create_model

    torch.manual_seed(0)
    module = create_model("se_mobilenet")
    model = export(module, "legacy", size=64)
    report = find_se_blocks(model, residual=True)
    assert len(report.blocks) == count_se(module) == 13 and report.near_misses == ()
    assert all(b.residual is None for b in report.blocks)  # MobileNet v1 has no residual additions
    assert compare_models(model, fuse_se(model).model, batches=(2,)).passed


def test_se_vgg_blocks_are_all_found() -> None:
    from se_deploy.models.vgg import VGG

    torch.manual_seed(0)
    module = VGG((8, 8, "M", 16, "M"), num_classes=10, se_reduction=4, hidden=32).eval()
    for exporter in ("dynamo", "legacy"):
        model = export(module, exporter, size=56)  # 56 / 4 = 14: the legacy exporter needs 7 to divide it
        report = find_se_blocks(model, residual=True)
        assert len(report.blocks) == count_se(module) == 3 and report.near_misses == ()
        assert compare_models(model, fuse_se(model).model, batches=(2,)).passed
