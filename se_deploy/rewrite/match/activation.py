"""Link 3, the activation between the FCs: an op from ``ACTIVATION_OPS``, or one written out by the exporter
as ``h * Sigmoid(h)`` (SiLU) or ``h * HardSigmoid(h)`` (hard swish).

Kinds are named as ``rewrite/fused_op.py``'s ``ACTIVATIONS``. Near-miss reasons beside it: an op not in
the table, an op in the table whose attributes the fused op cannot express (``refusal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx

from se_deploy.rewrite.graph import attribute
from se_deploy.rewrite.match.walk import Stop, Walk, is_standard, qualified_op


@dataclass(frozen=True)
class ActivationOp:
    """How one ONNX op reads as the fused op's activation."""

    kind: str
    alpha: tuple[str, float] | None = None  # (attribute, default) carried as ``activation_alpha``
    refusal: Callable[[onnx.NodeProto], str | None] | None = None  # why this node cannot be fused, if so


def _gelu_refusal(node: onnx.NodeProto) -> str | None:
    approximate = attribute(node, "approximate", b"none")
    if approximate not in (b"none", "none"):
        return "tanh-approximated Gelu is not supported by the fused op"
    return None


ACTIVATION_OPS: dict[str, ActivationOp] = {
    "Relu": ActivationOp("relu"),
    "LeakyRelu": ActivationOp("leaky_relu", alpha=("alpha", 0.01)),
    "HardSwish": ActivationOp("hard_swish"),
    "Gelu": ActivationOp("gelu", refusal=_gelu_refusal),
}
SELF_GATES = {"Sigmoid": "silu", "HardSigmoid": "hard_swish"}  # h * gate(h) -> activation kind


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
    spec = ACTIVATION_OPS.get(op)
    if spec is None:
        raise Stop(stage, f"unsupported activation between the FC layers: {op}")
    reason = spec.refusal(node) if spec.refusal else None
    if reason:
        raise Stop(stage, reason)
    walk.take(node)
    alpha = float(attribute(node, spec.alpha[0], spec.alpha[1])) if spec.alpha else 0.0  # type: ignore[arg-type]
    return spec.kind, alpha


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
