"""Fusing with and without the residual tail, stripping, overloads for mixed variants."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from se_deploy.onnx_compare import compare_models, random_inputs, session
from se_deploy.rewrite.fused_op import OVERLOAD_IR_VERSION
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se, strip_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.styles import TimmSE, export


def ops(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


def test_residual_add_and_relu_fold_into_the_residual_op() -> None:
    model = SEGraph(residual=True).build()
    fused = fuse_se(model).model
    assert ops(fused) == ["SqueezeExcitationResidual"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in fused.graph.node[0].attribute}
    assert attrs["residual_activation"] == b"relu"
    assert compare_models(model, fused).passed


def test_residual_without_relu() -> None:
    model = SEGraph(residual=True, residual_relu=False).build()
    fused = fuse_se(model).model
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in fused.graph.node[0].attribute}
    assert attrs["residual_activation"] == b"none"
    assert compare_models(model, fused).passed


def test_no_residual_keeps_add_and_relu() -> None:
    model = SEGraph(residual=True).build()
    fused = fuse_se(model, residual=False).model
    assert ops(fused) == ["SqueezeExcitation", "Add", "Relu"]
    assert compare_models(model, fused).passed


def test_strip_passes_the_input_straight_on() -> None:
    model = SEGraph(residual=True).build()
    stripped = strip_se(model).model
    assert ops(stripped) == ["Add", "Relu"]
    assert stripped.graph.initializer == []  # the SE weights went with the block
    feeds = random_inputs(model, 2, seed=0)
    (got,) = session(stripped).run(None, feeds)
    np.testing.assert_allclose(got, np.maximum(feeds["X"] + feeds["R"], 0))


def test_strip_of_a_graph_output_keeps_the_output_name() -> None:
    stripped = strip_se(SEGraph().build()).model
    assert ops(stripped) == ["Identity"] and stripped.graph.output[0].name == "Y"


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_stripped_se_resnet_equals_the_exported_twin(exporter: str) -> None:
    torch.manual_seed(0)
    from se_deploy.models import create_model

    se_model = create_model("se_resnet_tiny")
    twin = create_model("resnet_tiny")
    twin.load_state_dict({k: v for k, v in se_model.state_dict().items() if ".se." not in k})
    stripped = strip_se(export(se_model, exporter)).model
    assert find_se_blocks(stripped).blocks == ()
    reference = export(twin, exporter)
    assert compare_models(reference, stripped).passed


class MixedSE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.se1 = TimmSE(16, 4, nn.ReLU)
        self.se2 = TimmSE(16, 4, nn.SiLU, gate="hard_sigmoid_module")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se2(self.se1(self.conv(x)))


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_mixed_variants_get_function_overloads(exporter: str) -> None:
    torch.manual_seed(0)
    model = export(MixedSE(), exporter)
    fused = fuse_se(model).model
    assert ops(fused) == ["Conv", "SqueezeExcitation", "SqueezeExcitation"]
    overloads = sorted(node.overload for node in fused.graph.node if node.domain == "se_deploy")
    assert overloads == ["relu_sigmoid", "silu_hard_sigmoid"]
    assert sorted(f.overload for f in fused.functions) == overloads
    assert fused.ir_version >= OVERLOAD_IR_VERSION
    onnx.checker.check_model(fused)
    assert compare_models(model, fused).passed


def test_single_variant_needs_no_overload() -> None:
    fused = fuse_se(SEGraph().build()).model
    assert fused.graph.node[0].overload == "" and fused.functions[0].overload == ""
    assert fused.ir_version == 8
