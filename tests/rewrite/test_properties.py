"""Property-based: randomly generated SE variants are all matched, and stay numerically equal fused."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto
from torch import nn

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.styles import export


@st.composite
def se_graphs(draw: st.DrawFn) -> SEGraph:
    fc = draw(st.sampled_from(["conv", "gemm", "matmul"]))
    pool = draw(st.sampled_from(["GlobalAveragePool", "ReduceMean"]))
    channels = draw(st.integers(2, 40))
    return SEGraph(
        channels=channels,
        reduced=draw(st.integers(1, channels)),
        dtype=draw(st.sampled_from([TensorProto.FLOAT, TensorProto.FLOAT16])),
        opset=draw(st.sampled_from([17, 18])),
        pool=pool,
        reduce_axes=draw(st.sampled_from([(2, 3), (3, 2), (-1, -2), (-2, -1)])),
        keepdims=1 if fc == "conv" else draw(st.sampled_from([0, 1])),
        fc=fc,
        bias=draw(st.booleans()),
        activation=draw(st.sampled_from(["Relu", "SiLU", "LeakyRelu", "HardSwish"])),
        gate=draw(st.sampled_from(["Sigmoid", "HardSigmoid", "relu6_div", "clip01"])),
        mul_gate_first=draw(st.booleans()),
        back_shape=(-1, channels, 1, 1),
        residual=draw(st.booleans()),
        residual_relu=draw(st.booleans()),
        seed=draw(st.integers(0, 1000)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=se_graphs())
def test_generated_onnx_se_blocks_are_matched_and_fuse_exactly(spec: SEGraph) -> None:
    model = spec.build()
    report = find_se_blocks(model, residual=True)
    assert len(report.blocks) == 1, report.near_misses
    assert (report.blocks[0].residual is not None) == spec.residual
    fused = fuse_se(model).model
    assert sum(n.domain == "se_deploy" for n in fused.graph.node) == 1
    tolerance = {"atol": 2e-2, "rtol": 2e-2} if spec.dtype == TensorProto.FLOAT16 else {}
    assert compare_models(model, fused, **tolerance).passed


class GeneratedSE(nn.Module):
    """An SE block written in one of the ways people write them in PyTorch."""

    def __init__(self, channels: int, reduced: int, style: str, act: str, gate: str, bias: bool, gate_first: bool):
        super().__init__()
        linear = style == "linear"
        self.fc1 = nn.Linear(channels, reduced, bias=bias) if linear else nn.Conv2d(channels, reduced, 1, bias=bias)
        self.fc2 = nn.Linear(reduced, channels, bias=bias) if linear else nn.Conv2d(reduced, channels, 1, bias=bias)
        self.style, self.act, self.gate, self.gate_first = style, act, gate, gate_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style == "linear":
            s = F.adaptive_avg_pool2d(x, 1).flatten(1)
        elif self.style == "pool":
            s = F.adaptive_avg_pool2d(x, 1)
        else:
            s = x.mean((2, 3), keepdim=True)
        h = {"relu": F.relu, "silu": F.silu, "hardswish": F.hardswish, "leaky": F.leaky_relu}[self.act](self.fc1(s))
        e = self.fc2(h)
        g = {"sigmoid": torch.sigmoid, "hardsigmoid": F.hardsigmoid, "written": lambda t: F.relu6(t + 3) / 6}[
            self.gate
        ](e)
        if self.style == "linear":
            g = g.view(g.shape[0], -1, 1, 1)
        return g * x if self.gate_first else x * g


class Host(nn.Module):
    def __init__(self, se: nn.Module, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.se = se

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.conv(x))


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channels=st.integers(2, 24),
    data=st.data(),
    style=st.sampled_from(["conv", "pool", "linear"]),
    act=st.sampled_from(["relu", "silu", "hardswish", "leaky"]),
    gate=st.sampled_from(["sigmoid", "hardsigmoid", "written"]),
    bias=st.booleans(),
    gate_first=st.booleans(),
    exporter=st.sampled_from(["dynamo", "legacy"]),
)
def test_generated_pytorch_se_modules_are_matched_after_export(
    channels: int, data: st.DataObject, style: str, act: str, gate: str, bias: bool, gate_first: bool, exporter: str
) -> None:
    reduced = data.draw(st.integers(1, channels))
    torch.manual_seed(0)
    module = Host(GeneratedSE(channels, reduced, style, act, gate, bias, gate_first), channels)
    model = export(module, exporter, size=8)
    report = find_se_blocks(model)
    assert len(report.blocks) == 1, report.near_misses
    assert compare_models(model, fuse_se(model).model).passed
