"""The fused node lowered to TensorRT's three single-kernel plugin nodes: attributes the parser reads,
and numerical equality of the lowered graph through ONNX Runtime (via the nodes' ONNX functions)."""

from __future__ import annotations

import onnx
import pytest
import torch

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.plugin_lowering import lower_for_tensorrt
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.styles import export
from tests.rewrite.test_surgery import MixedSE


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize(
    "spec",
    [
        SEGraph(residual=True),
        SEGraph(residual=True, residual_relu=False),
        SEGraph(gate="HardSigmoid", activation="SiLU"),
        SEGraph(dtype=onnx.TensorProto.FLOAT16, fc="gemm"),
    ],
    ids=["residual_relu", "residual_plain", "silu_hard_sigmoid", "fp16"],
)
def test_lowered_graph_matches_the_fused_one(spec: SEGraph) -> None:
    fused = fuse_se(spec.build()).model
    lowered, count = lower_for_tensorrt(fused)
    onnx.checker.check_model(lowered)
    assert count == 1
    ops = [n.op_type for n in lowered.graph.node]
    assert ops == ["SESqueeze", "SEExcite", "SEScaleResidual" if spec.residual else "SEScale"]
    for node in lowered.graph.node:
        attrs = _attrs(node)
        assert node.domain == "se_deploy" and attrs["plugin_namespace"] == b"se_deploy" and attrs["aot"] == 1
    excite = _attrs(lowered.graph.node[1])
    assert excite["gate"] == (b"hard_sigmoid" if spec.gate == "HardSigmoid" else b"sigmoid")
    tolerance = {"atol": 1e-2, "rtol": 1e-2} if spec.dtype == onnx.TensorProto.FLOAT16 else {}
    assert compare_models(fused, lowered, **tolerance).passed


def test_lowering_a_model_that_mixes_variants() -> None:
    torch.manual_seed(0)
    fused = fuse_se(export(MixedSE(), "legacy")).model
    lowered, count = lower_for_tensorrt(fused, aot=False)
    assert count == 2 and lowered.ir_version >= 10
    assert sorted(n.overload for n in lowered.graph.node if n.op_type == "SEExcite") == [
        "relu_sigmoid",
        "silu_hard_sigmoid",
    ]
    assert all(_attrs(n)["aot"] == 0 for n in lowered.graph.node if n.domain == "se_deploy")
    assert compare_models(fused, lowered).passed


class ResidualThenPlainSE(torch.nn.Module):
    """One SE before a residual add and one without: same (activation, gate), different fused ops."""

    def __init__(self) -> None:
        super().__init__()
        from tests.rewrite.styles import TimmSE

        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.se1, self.se2 = TimmSE(16, 4), TimmSE(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.se2(torch.relu(self.se1(y) + y))


def test_residual_and_plain_blocks_share_one_excite_body() -> None:
    torch.manual_seed(0)
    fused = fuse_se(export(ResidualThenPlainSE(), "legacy")).model
    assert [n.op_type for n in fused.graph.node][-2:] == ["SqueezeExcitationResidual", "SqueezeExcitation"]
    lowered, count = lower_for_tensorrt(fused)
    assert count == 2
    assert {n.overload for n in lowered.graph.node} == {""}
    assert sum(f.name == "SEExcite" for f in lowered.functions) == 1
    assert compare_models(fused, lowered).passed
