"""Link 6, the scale: ``Mul(x, gate)`` in either operand order, the gate broadcast as (N, C, 1, 1) over the
squeezed tensor, and (when asked) the residual ``Add`` (+ ``Relu``) after it.

Near-miss reasons beside each check: the gate feeds something else, multiplies another tensor, cannot be
proven (or is proven not) to broadcast per channel, or an inner value's shape is used outside the block.
``scales_back`` is the SE signature that makes an early stop worth reporting as a near miss.
"""

from __future__ import annotations

import onnx

from se_deploy.rewrite.graph import GraphIndex
from se_deploy.rewrite.match.report import ResidualTail
from se_deploy.rewrite.match.walk import Stop, Walk, is_standard

STAGE = "scale"
MAX_SHAPE_HELPERS = 64


def take_scale(walk: Walk, x: str) -> onnx.NodeProto:
    """The Mul of the gate (at the head) and the squeezed tensor ``x``."""
    mul = walk.next_node(STAGE)
    if mul.op_type != "Mul" or not is_standard(mul):
        raise Stop(STAGE, f"the gate feeds {mul.op_type}, not the Mul that scales the input")
    other = mul.input[1] if mul.input[0] == walk.head else mul.input[0]
    if other != x:
        raise Stop(STAGE, f"the gate multiplies {other!r}, not the squeezed tensor {x!r}")
    walk.take(mul)
    return mul


def check_gate_broadcast(walk: Walk, x: str, gate_value: str, channels: int, *, keepdims: bool) -> None:
    """The gate must broadcast as (N, C, 1, 1) (or, after an Expand, as x's own shape) over ``x``."""
    x_shape = walk.index.shape(x)
    gate_shape = walk.index.shape(gate_value)
    if gate_shape is None:
        if not keepdims or walk.views:
            walk.soft(STAGE, "cannot prove that the gate broadcasts as (N, C, 1, 1) over the input")
        return
    expected_spatial = x_shape[2:] if walk.views and "Expand" in walk.views and x_shape else (1, 1)
    gate_channels = gate_shape[1] if len(gate_shape) == 4 else None
    if len(gate_shape) == 4 and not isinstance(gate_channels, int) and tuple(gate_shape[2:]) == (1, 1):
        # Views only reshape FC2's N x C values: with the same batch and 1 x 1 spatial, the channel is C.
        same_batch = x_shape is not None and gate_shape[0] is not None and gate_shape[0] == x_shape[0]
        gate_channels = channels if same_batch else gate_channels
    if (
        len(gate_shape) != 4
        or gate_channels != channels
        or tuple(gate_shape[2:]) not in {(1, 1), tuple(expected_spatial)}
    ):
        walk.soft(STAGE, f"the gate has shape {list(gate_shape)}; it must broadcast as (N, {channels}, 1, 1)")


def check_shape_reads(walk: Walk) -> None:
    """A Shape of an inner value may only feed the block itself (e.g. ``view(b, c, 1, 1)``'s target).

    Follows the Shape nodes' results forward, stopping at the block's nodes: if they reach a graph
    output any other way, something outside the block depends on a value the fusion removes.
    """
    inside = set(walk.nodes)
    helpers: set[int] = set()
    frontier = list(set(walk.shape_reads))
    while frontier:
        position = frontier.pop()
        if position in inside or position in helpers:
            continue
        helpers.add(position)
        if len(helpers) > MAX_SHAPE_HELPERS:
            walk.soft(STAGE, "the shape of an inner value feeds a large subgraph outside the SE block")
            return
        for value in walk.node(position).output:
            if value in walk.index.graph_outputs:
                walk.soft(STAGE, f"the shape of an inner value reaches the graph output {value!r}")
                return
            frontier.extend(walk.index.consumers_of(value))


def scales_back(index: GraphIndex, position: int, depth: int = 16) -> bool:
    """Whether something computed from the squeeze multiplies the squeezed tensor (the SE signature)."""
    squeeze = index.nodes[position]
    x = squeeze.input[0]
    frontier, seen = [squeeze.output[0]], set()
    for _ in range(depth):
        following = []
        for value in frontier:
            for reader in index.consumers_of(value):
                if reader in seen:
                    continue
                seen.add(reader)
                node = index.nodes[reader]
                if node.op_type == "Mul" and x in node.input and value in node.input:
                    return True
                following.extend(node.output)
        frontier = following
        if not frontier:
            return False
    return False


def residual_tail(index: GraphIndex, mul: onnx.NodeProto, x: str) -> ResidualTail | None:
    """The residual Add(+Relu) reading the SE output, when it adds a tensor of x's own static shape."""
    y = mul.output[0]
    add_position = index.only_consumer(y)
    if add_position is None:
        return None
    add = index.nodes[add_position]
    if add.op_type != "Add" or not is_standard(add) or len(set(add.input)) != 2:
        return None
    residual = add.input[1] if add.input[0] == y else add.input[0]
    # The gate was proven to broadcast as (N, C, 1, 1), so the SE output has the input's shape.
    y_shape, r_shape = index.shape(x), index.shape(residual)
    if y_shape is None or r_shape is None or len(y_shape) != 4 or tuple(y_shape) != tuple(r_shape):
        return None  # a broadcasting Add is not a residual connection
    if any(d is None for d in y_shape):
        return None
    relu_position = index.only_consumer(add.output[0])
    if relu_position is not None and index.nodes[relu_position].op_type == "Relu":
        relu = index.nodes[relu_position]
        return ResidualTail(residual, relu.output[0], (add_position, relu_position), "relu")
    return ResidualTail(residual, add.output[0], (add_position,), "none")
