"""Where Q/DQ goes around a fused SE block when the target runtime inlines the fused node (ONNX Runtime).

ONNX Runtime runs a model-local function by inlining it. Quantized with the fused node left opaque, the
whole body then runs in float between a DequantizeLinear and a QuantizeLinear: the squeeze, the scale
``X * gate`` and the residual ``Add + Relu`` each read and write full float tensors, and ORT's QDQ fusions
(``QLinearGlobalAveragePool``, ``QLinearMul``, ``QLinearAdd``) cannot apply. Measured on SE-ResNet-50 U8S8,
that made fused INT8 slower than stock INT8 at batch 8 (1.72 vs 1.38 over the twin).

So for such targets the fused functions are inlined before quantizing and the quantizer sees plain ops,
with the SE's *excitation* (the FCs on N x C values, their activation and the gate: the part known to
be sensitive to INT8 post-training quantization, and too small to matter for speed) excluded: those
ops keep float weights and compute in float. The squeeze, the scale and the residual add are quantized
like the rest of the network. The gate reaches the scale through one Q/DQ pair (the scale's input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
import onnx.inliner

from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.matcher import find_se_blocks


@dataclass
class SEInlining:
    model: onnx.ModelProto
    fused_nodes: int  # se_deploy nodes that were inlined
    float_ops: list[str] = field(default_factory=list)  # names of the excitation ops to keep in float


def inline_fused_se(model: onnx.ModelProto) -> SEInlining:
    """``model`` with its se_deploy functions inlined, and the names of each SE excitation's ops."""
    fused = sum(node.domain == DOMAIN for node in model.graph.node)
    if fused == 0:
        return SEInlining(model, 0)
    inlined = onnx.inliner.inline_local_functions(model)
    _name_unnamed_nodes(inlined)
    nodes = list(inlined.graph.node)
    producer = {out: position for position, node in enumerate(nodes) for out in node.output}
    report = find_se_blocks(inlined, residual=False)
    if len(report.blocks) != fused:
        raise RuntimeError(
            f"inlined {fused} fused SE nodes but found {len(report.blocks)} SE blocks again; "
            "quantize the fused model without inlining (QuantSettings.inline_fused_se=False)"
        )
    float_ops: list[str] = []
    for block in report.blocks:
        squeeze, scale = block.nodes[0], producer[block.output]
        float_ops.extend(nodes[p].name for p in block.nodes if p not in (squeeze, scale))
    return SEInlining(inlined, fused, float_ops)


def count_float_ops_with_qdq_weights(model: onnx.ModelProto, names: set[str]) -> int:
    """How many of the named (float-kept) ops read a weight or bias through a DequantizeLinear."""
    if not names:
        return 0
    producers = {out: node for node in model.graph.node for out in node.output}
    return sum(
        1
        for node in model.graph.node
        if node.name in names
        and any(name in producers and producers[name].op_type == "DequantizeLinear" for name in node.input[1:])
    )


def _name_unnamed_nodes(model: onnx.ModelProto) -> None:
    """The inliner leaves inlined nodes unnamed; the quantizer excludes nodes by name."""
    taken = {node.name for node in model.graph.node if node.name}
    for position, node in enumerate(model.graph.node):
        if node.name:
            continue
        name = f"se_inlined/{node.op_type}_{position}"
        while name in taken:
            name += "_"
        node.name = name
        taken.add(name)
