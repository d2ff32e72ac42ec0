"""The walk down one SE chain, link by link, and the report over every spatial squeeze of a graph.

A candidate becomes a near miss (not silently ignored) once it looks like an SE: it stopped at the
scale link, or something computed from the squeeze multiplies the squeezed tensor back. A classifier
head (pool -> flatten -> Gemm, or pool -> Conv -> HardSwish -> Conv) is neither and is not reported.
"""

from __future__ import annotations

import onnx

from se_deploy.rewrite.graph import GraphIndex
from se_deploy.rewrite.match.activation import take_activation
from se_deploy.rewrite.match.fc import check_fc_chain, take_fc
from se_deploy.rewrite.match.gate import take_gate
from se_deploy.rewrite.match.report import MatchReport, NearMiss, SEBlock
from se_deploy.rewrite.match.scale import (
    check_gate_broadcast,
    check_shape_reads,
    residual_tail,
    scales_back,
    take_scale,
)
from se_deploy.rewrite.match.squeeze import check_squeezed_channels, is_spatial_squeeze, keeps_dims
from se_deploy.rewrite.match.walk import STAGES, Stop, Walk

# A candidate that stopped at this stage or later is reported as a near miss whatever it looks like.
REPORT_FROM = STAGES.index("scale")


def find_se_blocks(model: onnx.ModelProto, *, residual: bool = False, index: GraphIndex | None = None) -> MatchReport:
    """Every SE block in ``model``'s main graph; ``residual`` also claims a following residual Add(+ReLU)."""
    index = index or GraphIndex(model)
    blocks: list[SEBlock] = []
    misses: list[NearMiss] = []
    claimed: set[int] = set()
    for position, node in enumerate(index.nodes):
        if not is_spatial_squeeze(index, node):
            continue
        anchor = node.name or f"{node.op_type}#{position}"
        try:
            block = walk_from_squeeze(index, position, residual=residual)
        except Stop as stop:
            if STAGES.index(stop.stage) >= REPORT_FROM or scales_back(index, position):
                misses.append(NearMiss(anchor, stop.stage, stop.reason))
            continue
        if isinstance(block, NearMiss):
            misses.append(NearMiss(anchor, block.stage, block.reason))
            continue
        if claimed & set(block.nodes):  # defensive: single-reader links keep two walks apart
            misses.append(NearMiss(anchor, "scale", "shares nodes with another SE block"))
            continue
        claimed.update(block.nodes)
        blocks.append(block)
    return MatchReport(tuple(blocks), tuple(misses))


def walk_from_squeeze(index: GraphIndex, position: int, *, residual: bool) -> SEBlock | NearMiss:
    """squeeze -> FC1 -> activation -> FC2 -> gate -> Mul, views allowed between links; raises ``Stop``."""
    squeeze = index.nodes[position]
    x = squeeze.input[0]
    walk = Walk(index, squeeze.output[0], nodes=[position])
    walk.skip_views()
    w1, b1, fc_kind = take_fc(walk, "fc1")
    activation, activation_alpha = take_activation(walk)
    walk.skip_views()
    w2, b2, fc2_kind = take_fc(walk, "fc2")
    walk.skip_views()
    gate, gate_alpha, gate_beta = take_gate(walk)
    walk.skip_views(extra=frozenset({"Expand"}))
    gate_value = walk.head
    mul = take_scale(walk, x)

    channels = int(w1.shape[1])
    check_fc_chain(walk, w1, w2)
    check_squeezed_channels(walk, x, channels)
    check_gate_broadcast(walk, x, gate_value, channels, keepdims=keeps_dims(squeeze))
    check_shape_reads(walk)
    if walk.problems:
        stage, reason = walk.problems[0]
        return NearMiss("", stage, reason)
    return SEBlock(
        name=_module_name(mul) or mul.name or f"se_{position}",
        input=x,
        output=mul.output[0],
        channels=channels,
        reduced_channels=int(w1.shape[0]),
        pool=squeeze.op_type,
        fc=fc_kind if fc_kind == fc2_kind else f"{fc_kind}+{fc2_kind}",
        activation=activation,
        activation_alpha=activation_alpha,
        gate=gate,
        gate_alpha=gate_alpha,
        gate_beta=gate_beta,
        w1=w1,
        b1=b1,
        w2=w2,
        b2=b2,
        nodes=tuple(walk.nodes),
        residual=residual_tail(index, mul, x) if residual else None,
    )


def _module_name(node: onnx.NodeProto) -> str | None:
    """The PyTorch module path the dynamo exporter records (``layer1.0.se``), when it does."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = [s.strip().strip("'\"") for s in prop.value.strip("[]").split(",")]
            return scopes[-2] if len(scopes) >= 2 and scopes[-2] else None
    return None
