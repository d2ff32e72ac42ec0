"""SE roles (squeeze / excitation / scale) of a Q/DQ (INT8) graph's nodes, for the profiler's categories.

The SE matcher reads float graphs; in a Q/DQ graph every tensor passes through QuantizeLinear ->
DequantizeLinear and the quantizer drops the ReLU between the FCs (folded into the Q range), so it
finds nothing. ONNX Runtime names each fused QLinear op after the float node it replaced
(``se_inlined/Mul_14`` runs as ``QLinearMul``), so naming the float nodes names the kernels. An SE
block is found from its scale: a ``Mul`` one of whose inputs is derived (through excitation ops) from
a global average of the other input.
"""

from __future__ import annotations

import onnx

_QDQ = {"QuantizeLinear", "DequantizeLinear"}
_SQUEEZE = {"GlobalAveragePool", "ReduceMean"}
_EXCITATION = {
    "Conv", "Gemm", "MatMul", "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip", "Add", "Mul", "Div",
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand",
}  # fmt: skip
_MAX_EXCITATION_NODES = 16  # an SE excitation is a handful of ops; a longer walk is not one


class _Graph:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.initializers = {i.name for i in model.graph.initializer}
        self.producer = {out: node for node in model.graph.node for out in node.output}

    def source(self, name: str) -> str:
        """The float tensor behind ``name``: through QuantizeLinear/DequantizeLinear pairs."""
        node = self.producer.get(name)
        while node is not None and node.op_type in _QDQ:
            name = node.input[0]
            node = self.producer.get(name)
        return name

    def excitation_of(self, gate: str, x: str) -> tuple[onnx.NodeProto, list[onnx.NodeProto]] | None:
        """(squeeze, excitation nodes) if ``gate`` comes from a global average of ``x``, else None."""
        target, pending, seen = self.source(x), [self.source(gate)], []
        while pending:
            node = self.producer.get(pending.pop())
            if node is None or any(node is s for s in seen):
                continue
            if node.op_type in _SQUEEZE:
                if self.source(node.input[0]) == target:
                    return node, seen
                continue
            if node.op_type not in _EXCITATION or len(seen) >= _MAX_EXCITATION_NODES:
                return None
            seen.append(node)
            pending += [self.source(i) for i in node.input if i and self.source(i) not in self.initializers]
        return None


def quantized_se_roles(model: onnx.ModelProto) -> dict[str, str]:
    """Node name -> "SE squeeze" / "SE excitation" / "SE scale" for every SE block found in a Q/DQ graph."""
    graph = _Graph(model)
    roles: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        for x, gate in (node.input, reversed(node.input)):
            found = graph.excitation_of(gate, x)
            if found:
                squeeze, excitation = found
                roles[squeeze.name] = "SE squeeze"
                roles.update({n.name: "SE excitation" for n in excitation})
                roles[node.name] = "SE scale"
                break
    return roles
