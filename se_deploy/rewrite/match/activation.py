"""Link 3, the activation between the FCs: an op of a row of ``se_variants.ACTIVATIONS`` (its ``onnx_ops``,
gathered in ``ACTIVATION_OPS``), or one written out by the exporter as ``h * Sigmoid(h)`` (SiLU) or
``h * HardSigmoid(h)`` (hard swish).

Kinds are the rows' names. Near-miss reasons beside it: an op no row spells, an op whose attributes the
fused op cannot express (the row's ``refusal``).
"""

from __future__ import annotations

import numpy as np
import onnx

from se_deploy.rewrite.graph import attribute
from se_deploy.rewrite.match.walk import Stop, Walk, is_standard, qualified_op
from se_deploy.se_variants import ACTIVATIONS, Activation, OnnxOp

# ONNX op -> (the row it spells, how): built from the table, so a new row with ``onnx_ops`` is matched
ACTIVATION_OPS: dict[str, tuple[Activation, OnnxOp]] = {
    op.op_type: (row, op) for row in ACTIVATIONS for op in row.onnx_ops
}
SELF_GATES = {"Sigmoid": "silu", "HardSigmoid": "hard_swish"}  # h * gate(h) -> activation kind (written out)


def take_activation(walk: Walk) -> tuple[str, float]:
    """The activation at the head: (kind, activation_alpha)."""
    stage = "activation"
    readers = walk.index.consumers_of(walk.head)
    if len(readers) == 2 and walk.head not in walk.index.graph_outputs:
        kind = _take_self_gated(walk, readers)
        if kind:
            return kind, 0.0
    node = walk.next_node(stage)
    op = qualified_op(node)
    spelled = ACTIVATION_OPS.get(op)
    if spelled is None:
        raise Stop(stage, f"unsupported activation between the FC layers: {op}")
    row, spelling = spelled
    parameters, reason = spelling.read(node)
    if reason:
        raise Stop(stage, reason)
    walk.take(node)
    return row.name, parameters.get("activation_alpha", 0.0)


def _take_self_gated(walk: Walk, readers: list[int]) -> str | None:
    """``h * Sigmoid(h)`` (SiLU) or ``h * HardSigmoid(h)`` (hard swish), written out by the exporter; else None."""
    nodes = [walk.node(r) for r in readers]
    gates = [n for n in nodes if n.op_type in SELF_GATES and is_standard(n)]
    muls = [n for n in nodes if n.op_type == "Mul" and is_standard(n)]
    if len(gates) != 1 or len(muls) != 1:
        return None
    gate, mul = gates[0], muls[0]
    if set(mul.input) != {walk.head, gate.output[0]} or walk.index.consumers_of(gate.output[0]) != [
        walk.index.producer[mul.output[0]]
    ]:
        return None
    if gate.op_type == "HardSigmoid" and not _is_hard_swish_gate(gate):
        return None
    walk.nodes.append(walk.index.producer[gate.output[0]])
    walk.take(mul)
    return SELF_GATES[gate.op_type]


def _is_hard_swish_gate(gate: onnx.NodeProto) -> bool:
    alpha = float(attribute(gate, "alpha", 0.2))  # type: ignore[arg-type]
    beta = float(attribute(gate, "beta", 0.5))  # type: ignore[arg-type]
    return bool(np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5))
