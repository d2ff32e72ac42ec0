"""Spatial ``ReduceMean`` -> ``GlobalAveragePool``: an exact rewrite that INT8 builds need on ONNX Runtime.

Why: ONNX Runtime's QDQ transformer fuses ``DequantizeLinear -> GlobalAveragePool -> QuantizeLinear`` into
one quantized pooling op (``com.microsoft::QLinearGlobalAveragePool``), but has no such fusion for
``ReduceMean``: the torch dynamo exporter's SE squeeze (``ReduceMean(axes=[-1, -2], keepdims=1)``) then runs
in float on the dequantized tensor. Measured on SE-ResNet-50 U8S8 (DESIGN.md): SE tax 1.41 -> 1.08 at
batch 1, 1.10 -> 1.03 at batch 8.

What is rewritten: a default-domain ``ReduceMean`` whose input is a 4-D floating-point tensor (rank from
shape inference) and whose axes (attribute before opset 18, constant input from 18) are exactly the two
spatial axes in any sign or order. ``keepdims=1`` becomes ``GlobalAveragePool`` writing the same output;
``keepdims=0`` becomes ``GlobalAveragePool`` followed by ``Squeeze(axes=[2, 3])``. Both compute the mean
over H*W, so the rewrite is exact up to the kernels' summation order. Every other ``ReduceMean`` is left
alone, with the reason recorded.

Model-local function bodies are not touched: se-deploy's fused-op bodies already squeeze with
``GlobalAveragePool`` (``fused_op.make_function``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from se_deploy.rewrite.graph import GraphIndex, attribute

_FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE})


@dataclass(frozen=True)
class SkippedReduceMean:
    node: str
    reason: str


@dataclass
class SqueezePoolResult:
    model: onnx.ModelProto
    rewritten: list[str] = field(default_factory=list)  # names of the ReduceMean nodes now pooled
    skipped: list[SkippedReduceMean] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "rewritten": len(self.rewritten),
            "skipped": [{"node": s.node, "reason": s.reason} for s in self.skipped],
        }


def reduce_mean_to_global_pool(model: onnx.ModelProto) -> SqueezePoolResult:
    """A copy of ``model`` with every spatial ``ReduceMean`` of a 4-D float tensor as ``GlobalAveragePool``."""
    result = SqueezePoolResult(onnx.ModelProto())
    result.model.CopyFrom(model)
    index = GraphIndex(result.model)
    graph = result.model.graph
    new_nodes: list[onnx.NodeProto] = []
    dropped_inputs: set[str] = set()
    for position, node in enumerate(index.nodes):
        if node.op_type != "ReduceMean" or node.domain not in ("", "ai.onnx"):
            new_nodes.append(node)
            continue
        name = node.name or f"ReduceMean#{position}"
        reason = _why_not(index, node)
        if reason is not None:
            result.skipped.append(SkippedReduceMean(name, reason))
            new_nodes.append(node)
            continue
        new_nodes.extend(_pooled(node, name, index.opset, graph))
        if len(node.input) > 1 and node.input[1]:
            dropped_inputs.add(node.input[1])
        result.rewritten.append(name)
    del graph.node[:]
    graph.node.extend(new_nodes)
    _drop_unread_initializers(graph, dropped_inputs)
    return result


def _why_not(index: GraphIndex, node: onnx.NodeProto) -> str | None:
    """None when ``node`` can be pooled exactly, else why not."""
    x = node.input[0]
    shape = index.shape(x)
    if shape is None:
        return "the input's rank is unknown (shape inference gave none)"
    if len(shape) != 4:
        return f"the input has rank {len(shape)}; GlobalAveragePool here needs 4-D (N, C, H, W)"
    if index.elem_type(x) not in _FLOAT_TYPES:
        return "the input is not float/float16/double"
    axes = _axes(index, node)
    if isinstance(axes, str):
        return axes
    if len(axes) != 2 or {a % 4 for a in axes} != {2, 3} or any(not -4 <= a < 4 for a in axes):
        return f"reduces axes {axes}, not exactly H and W"
    return None


def _axes(index: GraphIndex, node: onnx.NodeProto) -> list[int] | str:
    if index.opset >= 18:
        if len(node.input) < 2 or not node.input[1]:
            return "no axes: reduces every axis (or none)"
        value = index.constant(node.input[1])
        if value is None:
            return "its axes are computed at run time"
        return [int(a) for a in np.atleast_1d(value)]
    axes = attribute(node, "axes")
    if axes is None:
        return "no axes: reduces every axis"
    return [int(a) for a in axes]  # type: ignore[union-attr]


def _pooled(node: onnx.NodeProto, name: str, opset: int, graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    output = node.output[0]
    keepdims = int(attribute(node, "keepdims", 1))  # type: ignore[arg-type]
    if keepdims:
        return [helper.make_node("GlobalAveragePool", [node.input[0]], [output], name=name)]
    pooled = f"{output}__pooled"
    pool = helper.make_node("GlobalAveragePool", [node.input[0]], [pooled], name=name)
    if opset >= 13:
        axes = f"{output}__squeeze_axes"
        graph.initializer.append(numpy_helper.from_array(np.array([2, 3], dtype=np.int64), axes))
        squeeze = helper.make_node("Squeeze", [pooled, axes], [output], name=f"{name}/squeeze")
    else:
        squeeze = helper.make_node("Squeeze", [pooled], [output], name=f"{name}/squeeze", axes=[2, 3])
    return [pool, squeeze]


def _drop_unread_initializers(graph: onnx.GraphProto, names: set[str]) -> None:
    """Remove the axes initializers the rewritten nodes read, when nothing else reads them."""
    still_read = names_read(graph) | {o.name for o in graph.output}
    keep = [init for init in graph.initializer if init.name not in names or init.name in still_read]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)


def names_read(graph: onnx.GraphProto) -> set[str]:
    """Every value name a node of ``graph`` or of its subgraphs (If/Loop/Scan bodies) reads."""
    names: set[str] = set()
    for node in graph.node:
        names.update(node.input)
        for attr in node.attribute:
            for sub in (*([attr.g] if attr.HasField("g") else []), *attr.graphs):
                names |= names_read(sub)
    return names
