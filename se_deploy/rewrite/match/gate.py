"""Link 5, the gate: an op of a row of ``se_variants.GATES`` (its ``onnx_ops``, gathered in ``GATE_OPS``:
Sigmoid, HardSigmoid), or a hard sigmoid written out as arithmetic around a Clip/Relu6 (``relu6(x + 3) / 6``,
``clip(x / 6 + 0.5, 0, 1)``, ...), read as HardSigmoid(alpha, beta).

Kinds are the rows' names. The written-out form is read by folding the nodes through ``WRITTEN_ARITHMETIC``:
each row says what ``head <op> c`` does to the affine map before the Clip and to the scale after it, and
where the op may not stand (``refusal``). Near-miss reasons beside it: an op that is no gate, a table row's
refusal (a HardSigmoid with alpha <= 0), a non-constant Clip bound or operand, an arithmetic row's refusal,
arithmetic without a Clip, a Clip after a negative scale, a Clip (a second Clip composed into the first)
that does not end up mapping onto [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx

from se_deploy.rewrite.graph import attribute
from se_deploy.rewrite.match.walk import Stop, Walk, is_standard, qualified_op
from se_deploy.se_variants import DEFAULT_VARIANT, GATES, OnnxOp
from se_deploy.se_variants import Gate as GateRow

STAGE = "gate"
Gate = tuple[str, float, float]  # (kind, gate_alpha, gate_beta): clip(alpha * x + beta, 0, 1) for hard_sigmoid


# ONNX op -> (the row it spells, how): built from ``se_variants.GATES``, so a new row with ``onnx_ops`` is matched
GATE_OPS: dict[str, tuple[GateRow, OnnxOp]] = {op.op_type: (row, op) for row in GATES for op in row.onnx_ops}


def _take_gate_op(walk: Walk, node: onnx.NodeProto, row: GateRow, spelling: OnnxOp) -> Gate:
    """A node of a row's ``onnx_ops``; its refusal is soft (the walk goes on and reports what else is wrong)."""
    walk.take(node)
    parameters, reason = spelling.read(node)
    if reason:
        walk.soft(STAGE, reason)
    alpha = parameters.get("gate_alpha", DEFAULT_VARIANT.gate_alpha)
    return row.name, alpha, parameters.get("gate_beta", DEFAULT_VARIANT.gate_beta)


@dataclass(frozen=True)
class Arithmetic:
    """What ``head <op> c`` (c a scalar constant) does inside a written-out hard sigmoid."""

    before_clip: Callable[[float, float, float], tuple[float, float]]  # (scale, offset, c) -> (scale, offset)
    after_clip: Callable[[float, float], float] | None  # (post_scale, c) -> post_scale; None: not after the Clip
    constant_first: bool  # whether ``c <op> head`` is the same map
    refusal: str = ""  # the near-miss reason when the op stands where it may not
    nonzero: bool = False  # whether c == 0 is refused


WRITTEN_ARITHMETIC: dict[str, Arithmetic] = {
    "Add": Arithmetic(
        lambda s, o, c: (s, o + c), None, True, refusal="an Add after the Clip does not form a hard sigmoid"
    ),
    "Sub": Arithmetic(
        lambda s, o, c: (s, o - c), None, False, refusal="a Sub in the gate does not form a hard sigmoid"
    ),
    "Mul": Arithmetic(lambda s, o, c: (s * c, o * c), lambda p, c: p * c, True),
    "Div": Arithmetic(
        lambda s, o, c: (s / c, o / c),
        lambda p, c: p / c,
        False,
        refusal="a Div in the gate does not form a hard sigmoid",
        nonzero=True,
    ),
}
WRITTEN_OPS = frozenset({"Clip", *WRITTEN_ARITHMETIC})
MAX_WRITTEN_NODES = 4  # relu6(x + 3) / 6 is three; one more for a stray scale


def take_gate(walk: Walk) -> Gate:
    node = walk.next_node(STAGE)
    op = qualified_op(node)
    if op in GATE_OPS:
        return _take_gate_op(walk, node, *GATE_OPS[op])
    if op in WRITTEN_OPS:
        return take_written_hard_sigmoid(walk, node)
    raise Stop(STAGE, f"expected a gate ({', '.join(GATE_OPS)} or relu6(x + 3) / 6), found {op}")


@dataclass
class _Written:
    """``post_scale * clip(scale * x + offset, *clip)``, as folded so far."""

    scale: float = 1.0
    offset: float = 0.0
    post_scale: float = 1.0
    clip: tuple[float, float] | None = None


def take_written_hard_sigmoid(walk: Walk, first: onnx.NodeProto) -> Gate:
    """``clip(x + a, 0, b) / b`` (relu6(x + 3) / 6) or ``clip(x / b + c, 0, 1)``, as HardSigmoid(alpha, beta)."""
    state = _Written()
    node: onnx.NodeProto | None = first
    for _ in range(MAX_WRITTEN_NODES):
        if node is None:
            break
        if node.op_type == "Clip":
            _take_clip(walk, node, state)
        else:
            _take_arithmetic(walk, node, state)
        node = _next_written_node(walk)
    if state.clip is None:
        raise Stop(STAGE, "arithmetic without a Clip/Relu6 is not a hard sigmoid")
    low, high = state.clip
    post = state.post_scale
    # post * clip(scale * x + offset, low, high) == clip(alpha * x + beta, 0, 1) needs:
    if not (np.isclose(low, 0.0) and post > 0 and np.isclose(high * post, 1.0)):
        raise Stop(STAGE, f"Clip({low:g}, {high:g}) scaled by {post:g} does not map onto [0, 1]")
    return "hard_sigmoid", float(state.scale * post), float(state.offset * post)


def _take_clip(walk: Walk, node: onnx.NodeProto, state: _Written) -> None:
    bounds = _clip_bounds(walk, node)
    if bounds is None:
        raise Stop(STAGE, "Clip bounds of the written-out hard sigmoid are not constants")
    state.clip = bounds if state.clip is None else _clip_of_clip(state.clip, state.post_scale, bounds)
    walk.take(node)


def _clip_of_clip(clip: tuple[float, float], post: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """``clip(post * clip(y, lo, hi), l2, h2) == post * clip(y, max(lo, l2 / post), min(hi, h2 / post))`` (post > 0)."""
    if not post > 0:
        raise Stop(STAGE, f"a Clip after scaling by {post:g} does not form a hard sigmoid")
    return max(clip[0], bounds[0] / post), min(clip[1], bounds[1] / post)


def _take_arithmetic(walk: Walk, node: onnx.NodeProto, state: _Written) -> None:
    constant = _scalar_operand(walk, node)
    if constant is None:
        raise Stop(STAGE, f"{node.op_type} in the gate does not combine the excitation with a scalar constant")
    value, head_first = constant
    row = WRITTEN_ARITHMETIC[node.op_type]
    misplaced = (not head_first and not row.constant_first) or (state.clip is not None and row.after_clip is None)
    if misplaced or (row.nonzero and value == 0):
        raise Stop(STAGE, row.refusal)
    if state.clip is None:
        state.scale, state.offset = row.before_clip(state.scale, state.offset, value)
    else:
        state.post_scale = row.after_clip(state.post_scale, value)  # type: ignore[misc]
    walk.take(node)


def _next_written_node(walk: Walk) -> onnx.NodeProto | None:
    """The head's single reader when it goes on with the arithmetic (not the final ``gate * x`` Mul)."""
    readers = walk.index.consumers_of(walk.head)
    if len(readers) != 1:
        return None
    node = walk.node(readers[0])
    if node.op_type not in WRITTEN_OPS or not is_standard(node):
        return None
    if node.op_type == "Mul" and _scalar_operand(walk, node) is None:
        return None
    return node


def _clip_bounds(walk: Walk, node: onnx.NodeProto) -> tuple[float, float] | None:
    if walk.index.opset >= 11:
        bounds = []
        for position, default in ((1, -np.inf), (2, np.inf)):
            if len(node.input) > position and node.input[position]:
                value = walk.index.constant(node.input[position])
                if value is None:
                    return None
                bounds.append(float(value.reshape(())))
            else:
                bounds.append(default)
        return bounds[0], bounds[1]
    return float(attribute(node, "min", -np.inf)), float(attribute(node, "max", np.inf))  # type: ignore[arg-type]


def _scalar_operand(walk: Walk, node: onnx.NodeProto) -> tuple[float, bool] | None:
    """(constant, head is the first operand) when ``node`` combines the head with a scalar constant."""
    if walk.head not in node.input:
        return None
    head_first = node.input[0] == walk.head
    other = node.input[1] if head_first else node.input[0]
    value = walk.index.constant(other)
    if value is None or value.size != 1:
        return None
    return float(value.reshape(())), head_first
