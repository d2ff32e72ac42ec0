"""Q/DQ around a fused SE block when the target runtime inlines the fused node (ONNX Runtime).

ONNX Runtime runs a model-local function by inlining it. Quantized with the fused node left opaque, the
whole body then runs in float between a DequantizeLinear and a QuantizeLinear: the squeeze, the scale
``X * gate`` and the residual ``Add + Relu`` each read and write full float tensors, and ORT's QDQ fusions
(``QLinearGlobalAveragePool``, ``QLinearMul``, ``QLinearAdd``) cannot apply. Measured on SE-ResNet-50 U8S8,
that made fused INT8 slower than stock INT8 at batch 8 (1.72 vs 1.38 over the twin).

So for such targets the fused functions are inlined before quantizing, and the quantizer and ORT's
fusions see the same plain ops as in the stock graph: the fused INT8 engine is the stock INT8 graph, never
slower by construction. Keeping the excitation (FCs, activation, gate) in float was measured too and was not
free (ORT wraps the float FCs in layout transposes and reorders; 1.03-1.05x the stock INT8 time, within noise)
while the gate is quantized anyway where it enters the quantized scale ``X * gate``; see the README.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
import onnx.inliner
from onnx import numpy_helper

from se_deploy.rewrite.fused_op import DOMAIN
from se_deploy.rewrite.graph import GraphIndex
from se_deploy.rewrite.squeeze_pool import names_read


@dataclass
class SEInlining:
    model: onnx.ModelProto
    fused_nodes: int  # se_deploy nodes that were inlined


def inline_fused_se(model: onnx.ModelProto) -> SEInlining:
    """``model`` with its se_deploy functions inlined (inlined nodes named, for the quantizer's reports)."""
    fused = sum(node.domain == DOMAIN for node in model.graph.node)
    if fused == 0:
        return SEInlining(model, 0)
    inlined = onnx.inliner.inline_local_functions(model)
    del inlined.functions[:]
    keep = [o for o in inlined.opset_import if o.domain != DOMAIN]
    del inlined.opset_import[:]
    inlined.opset_import.extend(keep)
    _fold_constant_unsqueezes(inlined)
    _name_unnamed_nodes(inlined)
    return SEInlining(inlined, fused)


def _fold_constant_unsqueezes(model: onnx.ModelProto) -> None:
    """The bodies reshape W1/W2 to conv kernels with ``Unsqueeze``; as initializers again, the quantizer
    gives them per-channel symmetric weight quantization (not activation Q/DQ), as in the stock graph."""
    index = GraphIndex(model)
    graph = model.graph
    kept: list[onnx.NodeProto] = []
    sources: set[str] = set()
    for node in graph.node:
        value = index.constant(node.output[0]) if node.op_type == "Unsqueeze" and node.domain == "" else None
        if value is None:
            kept.append(node)
        else:
            graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
            sources.add(node.input[0])
    del graph.node[:]
    graph.node.extend(kept)
    read = names_read(graph) | {value.name for value in graph.output}
    kept = [node for node in kept if node.op_type != "Constant" or any(out in read for out in node.output)]
    del graph.node[:]
    graph.node.extend(kept)
    unread = [init for init in graph.initializer if init.name in sources and init.name not in read]
    for init in unread:  # the (C, Cr) weights the folded Unsqueezes read
        graph.initializer.remove(init)


def _name_unnamed_nodes(model: onnx.ModelProto) -> None:
    """The inliner leaves inlined nodes unnamed; the quantizer and ``count_se_ops_with_qdq`` go by name."""
    taken = {node.name for node in model.graph.node if node.name}
    for position, node in enumerate(model.graph.node):
        if node.name:
            continue
        name = f"se_inlined/{node.op_type}_{position}"
        while name in taken:
            name += "_"
        node.name = name
        taken.add(name)
