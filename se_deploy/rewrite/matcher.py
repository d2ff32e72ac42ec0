"""Find Squeeze-and-Excitation subgraphs in an ONNX graph, whoever exported it.

Hand-rolled rather than onnxscript's pattern rewriter: an SE block is a chain anchored on a spatial
squeeze (squeeze -> FC -> activation -> FC -> gate -> Mul back onto the squeezed tensor), but every
link has several spellings (1x1 Conv, Gemm, MatMul+Add; Reshape/Flatten/Squeeze/Unsqueeze/Expand in
between; SiLU and hard sigmoid written out in arithmetic). As patterns that is a product of
alternatives; as a walk it is one function per link, and the walk knows where and why a candidate
stopped matching, which is what ``inspect`` reports as a near miss.

A candidate becomes a near miss (not silently ignored) once it looks like an SE: two FC layers and a
gate after a spatial squeeze, or something computed from the squeeze that multiplies the squeezed
tensor back. A classifier head (pool -> flatten -> Gemm, or pool -> Conv -> HardSwish -> Conv) is
neither and is not reported.

Run ``se_deploy.rewrite.normalize`` first (``fuse_se``/``strip_se`` do): it folds the exporters'
separate bias/scale ops into the Conv and drops no-ops, so the walk here sees one spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from se_deploy.rewrite.graph import GraphIndex, attribute

# Ops that only re-view the (N, C) / (N, C, 1, 1) excitation tensor.
_VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
# Stages in walk order; a candidate that found its gate is SE-like enough to report as a near miss.
# One that stopped earlier is reported only when it multiplies the squeezed tensor back (``_scales_back``):
# a classifier head (pool -> Conv -> HardSwish -> Conv/Mul) has two FC-like layers but is no SE.
STAGES: tuple[str, ...] = ("squeeze", "fc1", "activation", "fc2", "gate", "scale")
_REPORT_FROM = STAGES.index("scale")


@dataclass(frozen=True)
class ResidualTail:
    """The residual Add (and ReLU) that the SE output feeds, fusable into the residual op."""

    residual_input: str
    output: str
    nodes: tuple[int, ...]
    activation: str  # "relu" or "none"


@dataclass(frozen=True)
class SEBlock:
    """One matched SE block. Weights are (out, in) matrices in the model's float type."""

    name: str
    input: str
    output: str
    channels: int
    reduced_channels: int
    pool: str
    fc: str
    activation: str
    activation_alpha: float
    gate: str
    gate_alpha: float
    gate_beta: float
    w1: np.ndarray = field(repr=False)
    b1: np.ndarray = field(repr=False)
    w2: np.ndarray = field(repr=False)
    b2: np.ndarray = field(repr=False)
    nodes: tuple[int, ...] = field(repr=False)
    residual: ResidualTail | None = None

    @property
    def dtype(self) -> str:
        return str(self.w1.dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": self.input,
            "output": self.output,
            "channels": self.channels,
            "reduced_channels": self.reduced_channels,
            "pool": self.pool,
            "fc": self.fc,
            "activation": self.activation,
            "gate": self.gate,
            "gate_alpha": self.gate_alpha if self.gate == "hard_sigmoid" else None,
            "gate_beta": self.gate_beta if self.gate == "hard_sigmoid" else None,
            "dtype": self.dtype,
            "residual": self.residual is not None,
            "residual_activation": self.residual.activation if self.residual else None,
            "nodes": len(self.nodes),
        }


@dataclass(frozen=True)
class NearMiss:
    """An SE-like subgraph that failed a check, and why."""

    anchor: str  # the squeeze node's name
    stage: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"anchor": self.anchor, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class MatchReport:
    blocks: tuple[SEBlock, ...]
    near_misses: tuple[NearMiss, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "se_blocks": [block.to_dict() for block in self.blocks],
            "near_misses": [miss.to_dict() for miss in self.near_misses],
        }


class _Stop(Exception):
    """The walk cannot go on: ``stage`` says where, ``reason`` why."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass
class _Walk:
    """State of one candidate: the nodes taken so far and the value at the walk's head."""

    index: GraphIndex
    head: str
    nodes: list[int] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (stage, reason) of soft failures
    views: list[str] = field(default_factory=list)
    shape_reads: list[int] = field(default_factory=list)

    def node(self, position: int) -> onnx.NodeProto:
        return self.index.nodes[position]

    def readers(self, value: str) -> list[int]:
        """Readers of ``value``, less Shape nodes (they read metadata only; checked in ``check_shape_reads``)."""
        readers = []
        for position in self.index.consumers_of(value):
            if self.node(position).op_type == "Shape":
                self.shape_reads.append(position)
            else:
                readers.append(position)
        return readers

    def check_shape_reads(self) -> None:
        """A Shape of an inner value may only feed the block itself (e.g. ``view(b, c, 1, 1)``'s target).

        Follows the Shape nodes' results forward, stopping at the block's nodes: if they reach a graph
        output any other way, something outside the block depends on a value the fusion removes.
        """
        inside = set(self.nodes)
        helpers: set[int] = set()
        frontier = list(set(self.shape_reads))
        while frontier:
            position = frontier.pop()
            if position in inside or position in helpers:
                continue
            helpers.add(position)
            if len(helpers) > 64:
                self.soft("scale", "the shape of an inner value feeds a large subgraph outside the SE block")
                return
            for value in self.node(position).output:
                if value in self.index.graph_outputs:
                    self.soft("scale", f"the shape of an inner value reaches the graph output {value!r}")
                    return
                frontier.extend(self.index.consumers_of(value))

    def next_node(self, stage: str) -> onnx.NodeProto:
        """The single reader of the head; it must read nothing else of the SE's inner values."""
        readers = self.readers(self.head)
        if not readers:
            raise _Stop(stage, f"{self.head!r} is not read by any node")
        if self.head in self.index.graph_outputs:
            raise _Stop(stage, f"{self.head!r} is also a graph output, so it cannot be fused away")
        if len(readers) > 1:
            ops = ", ".join(self.node(r).op_type for r in readers)
            raise _Stop(
                stage, f"{self.head!r} is read by {len(readers)} nodes ({ops}); an SE's inner values have one reader"
            )
        return self.node(readers[0])

    def take(self, node: onnx.NodeProto, output_index: int = 0) -> None:
        self.nodes.append(self.index.producer[node.output[0]])
        self.head = node.output[output_index]

    def skip_views(self, stage: str, extra: frozenset[str] = frozenset()) -> None:
        while True:
            readers = self.readers(self.head)
            if len(readers) != 1 or self.head in self.index.graph_outputs:
                return
            node = self.node(readers[0])
            if (
                node.op_type not in _VIEW_OPS | extra
                or node.domain not in ("", "ai.onnx")
                or node.input[0] != self.head
            ):
                return
            self.views.append(node.op_type)
            self.take(node)

    def soft(self, stage: str, reason: str) -> None:
        self.problems.append((stage, reason))


def find_se_blocks(model: onnx.ModelProto, *, residual: bool = False, index: GraphIndex | None = None) -> MatchReport:
    """Every SE block in ``model``'s main graph; ``residual`` also claims a following residual Add(+ReLU)."""
    index = index or GraphIndex(model)
    blocks: list[SEBlock] = []
    misses: list[NearMiss] = []
    claimed: set[int] = set()
    for position, node in enumerate(index.nodes):
        if not _is_spatial_squeeze(index, node):
            continue
        anchor = node.name or f"{node.op_type}#{position}"
        try:
            block = _walk_from_squeeze(index, position, residual=residual)
        except _Stop as stop:
            if STAGES.index(stop.stage) >= _REPORT_FROM or _scales_back(index, position):
                misses.append(NearMiss(anchor, stop.stage, stop.reason))
            continue
        if isinstance(block, NearMiss):
            misses.append(NearMiss(anchor, block.stage, block.reason))
            continue
        if claimed & set(block.nodes):
            misses.append(NearMiss(anchor, "scale", "shares nodes with another SE block"))
            continue
        claimed.update(block.nodes)
        blocks.append(block)
    return MatchReport(tuple(blocks), tuple(misses))


def _scales_back(index: GraphIndex, position: int, depth: int = 16) -> bool:
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


def _is_spatial_squeeze(index: GraphIndex, node: onnx.NodeProto) -> bool:
    if node.domain not in ("", "ai.onnx"):
        return False
    if node.op_type == "GlobalAveragePool":
        shape = index.shape(node.input[0])
        return shape is None or len(shape) == 4
    if node.op_type == "ReduceMean":
        axes = _reduce_axes(index, node)
        if axes is None:
            return False
        shape = index.shape(node.input[0])
        rank = len(shape) if shape is not None else 4
        return rank == 4 and {a % rank for a in axes} == {2, 3}
    return False


def _reduce_axes(index: GraphIndex, node: onnx.NodeProto) -> list[int] | None:
    if index.opset >= 18:
        if len(node.input) < 2 or not node.input[1]:
            return None  # reduce over all axes: not a spatial squeeze
        value = index.constant(node.input[1])
        return None if value is None else [int(a) for a in np.atleast_1d(value)]
    axes = attribute(node, "axes")
    return None if axes is None else [int(a) for a in axes]  # type: ignore[union-attr]


def _walk_from_squeeze(index: GraphIndex, position: int, *, residual: bool) -> SEBlock | NearMiss:
    squeeze = index.nodes[position]
    x = squeeze.input[0]
    walk = _Walk(index, squeeze.output[0], nodes=[position])
    keepdims = squeeze.op_type == "GlobalAveragePool" or int(attribute(squeeze, "keepdims", 1)) == 1  # type: ignore[arg-type]
    walk.skip_views("fc1")
    w1, b1, fc_kind = _take_fc(walk, "fc1")
    activation, activation_alpha = _take_activation(walk)
    walk.skip_views("fc2")
    w2, b2, fc2_kind = _take_fc(walk, "fc2")
    walk.skip_views("gate")
    gate, gate_alpha, gate_beta = _take_gate(walk)
    walk.skip_views("scale", extra=frozenset({"Expand"}))
    mul = walk.next_node("scale")
    if mul.op_type != "Mul" or mul.domain not in ("", "ai.onnx"):
        raise _Stop("scale", f"the gate feeds {mul.op_type}, not the Mul that scales the input")
    other = mul.input[1] if mul.input[0] == walk.head else mul.input[0]
    if other != x:
        raise _Stop("scale", f"the gate multiplies {other!r}, not the squeezed tensor {x!r}")
    gate_value = walk.head
    walk.take(mul)

    channels = _check_channels(walk, x, gate_value, w1, w2, keepdims=keepdims)
    walk.check_shape_reads()
    if fc_kind != fc2_kind:
        fc_kind = f"{fc_kind}+{fc2_kind}"
    if walk.problems:
        stage, reason = walk.problems[0]
        return NearMiss("", stage, reason)
    tail = _residual_tail(index, mul, x) if residual else None
    name = _module_name(mul) or mul.name or f"se_{position}"
    return SEBlock(
        name=name,
        input=x,
        output=mul.output[0],
        channels=channels,
        reduced_channels=int(w1.shape[0]),
        pool=squeeze.op_type,
        fc=fc_kind,
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
        residual=tail,
    )


def _module_name(node: onnx.NodeProto) -> str | None:
    """The PyTorch module path the dynamo exporter records (``layer1.0.se``), when it does."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            scopes = [s.strip().strip("'\"") for s in prop.value.strip("[]").split(",")]
            return scopes[-2] if len(scopes) >= 2 and scopes[-2] else None
    return None


# --- FC layers -------------------------------------------------------------------------------


def _take_fc(walk: _Walk, stage: str) -> tuple[np.ndarray, np.ndarray, str]:
    """A fully connected layer at the head: 1x1 Conv, Gemm, or MatMul (+ Add bias). Returns W (out, in), b."""
    node = walk.next_node(stage)
    if node.domain not in ("", "ai.onnx") or node.op_type not in ("Conv", "Gemm", "MatMul"):
        raise _Stop(stage, f"expected a fully connected layer (1x1 Conv, Gemm or MatMul), found {node.op_type}")
    if node.input[0] != walk.head:
        raise _Stop(stage, f"{node.op_type} takes the squeezed values as its weight operand, not as data")
    weight = walk.index.constant(node.input[1])
    if weight is None:
        raise _Stop(stage, f"the {node.op_type} weights are computed at run time, not constants")
    bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
    bias = walk.index.constant(bias_name) if bias_name else None
    if bias_name and bias is None:
        raise _Stop(stage, f"the {node.op_type} bias is computed at run time, not a constant")
    if node.op_type == "Conv":
        matrix, kind = _conv_weight(walk, node, weight, stage), "conv"
    elif node.op_type == "Gemm":
        matrix, kind = _gemm_weight(walk, node, weight, stage), "gemm"
        if bias is not None:
            bias = bias * float(attribute(node, "beta", 1.0))  # type: ignore[arg-type]
    else:
        if weight.ndim != 2:
            raise _Stop(stage, f"MatMul weights have rank {weight.ndim}, expected 2")
        matrix, kind = weight.T, "matmul"
    walk.take(node)
    if kind == "matmul":
        bias = _take_matmul_bias(walk, matrix.shape[0])
    out_features = matrix.shape[0]
    if bias is None:
        bias = np.zeros(out_features, dtype=matrix.dtype)
    elif bias.size == 1 and out_features != 1:
        bias = np.full(out_features, bias.reshape(()), dtype=matrix.dtype)
    elif bias.size != out_features:
        raise _Stop(stage, f"{node.op_type} bias has {bias.size} values for {out_features} outputs")
    return np.ascontiguousarray(matrix), np.ascontiguousarray(bias.reshape(out_features).astype(matrix.dtype)), kind


def _conv_weight(walk: _Walk, node: onnx.NodeProto, weight: np.ndarray, stage: str) -> np.ndarray:
    if weight.ndim != 4:
        raise _Stop(stage, f"Conv weights have rank {weight.ndim}, expected 4")
    if weight.shape[2:] != (1, 1):
        walk.soft(stage, f"Conv kernel is {weight.shape[2]}x{weight.shape[3]}, an SE FC is 1x1")
    if int(attribute(node, "group", 1)) != 1:  # type: ignore[arg-type]
        walk.soft(stage, f"Conv has group={attribute(node, 'group')}, an SE FC has group=1")
    pads = attribute(node, "pads")
    if pads and any(int(p) for p in pads):  # type: ignore[union-attr]
        walk.soft(stage, f"Conv pads {list(pads)} change a 1x1 input; an SE FC has none")  # type: ignore[arg-type]
    auto_pad = attribute(node, "auto_pad", b"NOTSET")
    if auto_pad not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        walk.soft(stage, f"Conv auto_pad={auto_pad!r}; an SE FC has none")
    dilations = attribute(node, "dilations")
    if dilations and any(int(d) != 1 for d in dilations):  # type: ignore[union-attr]
        walk.soft(stage, "Conv is dilated; an SE FC is not")
    return weight[:, :, 0, 0]  # for a non-1x1 kernel a soft failure is already recorded


def _gemm_weight(walk: _Walk, node: onnx.NodeProto, weight: np.ndarray, stage: str) -> np.ndarray:
    if int(attribute(node, "transA", 0)):  # type: ignore[arg-type]
        walk.soft(stage, "Gemm transposes its data input (transA=1)")
    if weight.ndim != 2:
        raise _Stop(stage, f"Gemm weights have rank {weight.ndim}, expected 2")
    matrix = weight if int(attribute(node, "transB", 0)) else weight.T  # type: ignore[arg-type]
    alpha = float(attribute(node, "alpha", 1.0))  # type: ignore[arg-type]
    return matrix * np.asarray(alpha, dtype=matrix.dtype) if alpha != 1.0 else matrix


def _take_matmul_bias(walk: _Walk, out_features: int) -> np.ndarray | None:
    readers = walk.index.consumers_of(walk.head)
    if len(readers) != 1 or walk.head in walk.index.graph_outputs:
        return None
    node = walk.node(readers[0])
    if node.op_type != "Add" or node.domain not in ("", "ai.onnx"):
        return None
    other = node.input[1] if node.input[0] == walk.head else node.input[0]
    bias = walk.index.constant(other)
    if bias is None or bias.size not in (1, out_features):
        return None
    walk.take(node)
    return bias


# --- activation and gate -------------------------------------------------------------------


def _take_activation(walk: _Walk) -> tuple[str, float]:
    stage = "activation"
    readers = walk.index.consumers_of(walk.head)
    if len(readers) == 2 and walk.head not in walk.index.graph_outputs:
        silu = _self_gated(walk, readers)
        if silu:
            return silu, 0.0
    node = walk.next_node(stage)
    op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
    if op == "Relu":
        walk.take(node)
        return "relu", 0.0
    if op == "LeakyRelu":
        walk.take(node)
        return "leaky_relu", float(attribute(node, "alpha", 0.01))  # type: ignore[arg-type]
    if op == "HardSwish":
        walk.take(node)
        return "hard_swish", 0.0
    if op == "Gelu":
        approximate = attribute(node, "approximate", b"none")
        if approximate not in (b"none", "none"):
            raise _Stop(stage, "tanh-approximated Gelu is not supported by the fused op")
        walk.take(node)
        return "gelu", 0.0
    raise _Stop(stage, f"unsupported activation between the FC layers: {op}")


def _self_gated(walk: _Walk, readers: list[int]) -> str | None:
    """``h * Sigmoid(h)`` (SiLU) or ``h * HardSigmoid(h)`` (hard swish), written out by the exporter."""
    nodes = [walk.node(r) for r in readers]
    gates = [n for n in nodes if n.op_type in ("Sigmoid", "HardSigmoid") and n.domain in ("", "ai.onnx")]
    muls = [n for n in nodes if n.op_type == "Mul" and n.domain in ("", "ai.onnx")]
    if len(gates) != 1 or len(muls) != 1:
        return None
    gate, mul = gates[0], muls[0]
    if set(mul.input) != {walk.head, gate.output[0]} or walk.index.consumers_of(gate.output[0]) != [
        walk.index.producer[mul.output[0]]
    ]:
        return None
    if gate.op_type == "HardSigmoid":
        alpha = float(attribute(gate, "alpha", 0.2))  # type: ignore[arg-type]
        beta = float(attribute(gate, "beta", 0.5))  # type: ignore[arg-type]
        if not (np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5)):
            return None
        kind = "hard_swish"
    else:
        kind = "silu"
    walk.nodes.append(walk.index.producer[gate.output[0]])
    walk.take(mul)
    return kind


def _take_gate(walk: _Walk) -> tuple[str, float, float]:
    stage = "gate"
    node = walk.next_node(stage)
    op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
    if op == "Sigmoid":
        walk.take(node)
        return "sigmoid", 1.0 / 6.0, 0.5
    if op == "HardSigmoid":
        alpha = float(attribute(node, "alpha", 0.2))  # type: ignore[arg-type]
        beta = float(attribute(node, "beta", 0.5))  # type: ignore[arg-type]
        if not alpha > 0:
            walk.soft(stage, f"HardSigmoid alpha={alpha} does not make a gate (needs alpha > 0)")
        walk.take(node)
        return "hard_sigmoid", alpha, beta
    if op in ("Add", "Sub", "Mul", "Div", "Clip"):
        return _take_written_hard_sigmoid(walk, node)
    raise _Stop(stage, f"expected a gate (Sigmoid, HardSigmoid or relu6(x + 3) / 6), found {op}")


def _take_written_hard_sigmoid(walk: _Walk, first: onnx.NodeProto) -> tuple[str, float, float]:
    """``clip(x + a, 0, b) / b`` (relu6(x + 3) / 6) or ``clip(x / b + c, 0, 1)``, as HardSigmoid(alpha, beta)."""
    stage = "gate"
    scale = 1.0  # x is multiplied by scale, then offset is added, before the clip
    offset = 0.0
    node = first
    post_scale = 1.0
    steps = 0
    clip: tuple[float, float] | None = None
    while steps < 4:
        steps += 1
        op = node.op_type
        if op == "Clip":
            clip = _clip_bounds(walk, node)
            if clip is None:
                raise _Stop(stage, "Clip bounds of the written-out hard sigmoid are not constants")
            walk.take(node)
        elif op in ("Add", "Sub", "Mul", "Div"):
            constant = _scalar_operand(walk, node)
            if constant is None:
                raise _Stop(stage, f"{op} in the gate does not combine the excitation with a scalar constant")
            value, head_first = constant
            if op == "Add":
                if clip is not None:
                    raise _Stop(stage, "an Add after the Clip does not form a hard sigmoid")
                offset += value
            elif op == "Sub":
                if not head_first or clip is not None:
                    raise _Stop(stage, "a Sub in the gate does not form a hard sigmoid")
                offset -= value
            elif op == "Mul":
                if clip is None:
                    scale, offset = scale * value, offset * value
                else:
                    post_scale *= value
            else:
                if not head_first or value == 0:
                    raise _Stop(stage, "a Div in the gate does not form a hard sigmoid")
                if clip is None:
                    scale, offset = scale / value, offset / value
                else:
                    post_scale /= value
            walk.take(node)
        else:
            break
        readers = walk.index.consumers_of(walk.head)
        if len(readers) != 1:
            break
        node = walk.node(readers[0])
        if node.op_type not in ("Clip", "Add", "Sub", "Mul", "Div") or node.domain not in ("", "ai.onnx"):
            break
        if node.op_type == "Mul" and _scalar_operand(walk, node) is None:
            break  # the final scale Mul (gate * x), not arithmetic of the gate
    if clip is None:
        raise _Stop(stage, "arithmetic without a Clip/Relu6 is not a hard sigmoid")
    low, high = clip
    # post_scale * clip(scale * x + offset, low, high) == clip(alpha * x + beta, 0, 1) needs:
    if not (np.isclose(low, 0.0) and post_scale > 0 and np.isclose(high * post_scale, 1.0)):
        raise _Stop(stage, f"Clip({low:g}, {high:g}) scaled by {post_scale:g} does not map onto [0, 1]")
    return "hard_sigmoid", float(scale * post_scale), float(offset * post_scale)


def _clip_bounds(walk: _Walk, node: onnx.NodeProto) -> tuple[float, float] | None:
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


def _scalar_operand(walk: _Walk, node: onnx.NodeProto) -> tuple[float, bool] | None:
    """(constant, head is the first operand) when ``node`` combines the head with a scalar constant."""
    if walk.head not in node.input:
        return None
    head_first = node.input[0] == walk.head
    other = node.input[1] if head_first else node.input[0]
    value = walk.index.constant(other)
    if value is None or value.size != 1:
        return None
    return float(value.reshape(())), head_first


# --- shape checks and the residual tail ----------------------------------------------------


def _check_channels(walk: _Walk, x: str, gate_value: str, w1: np.ndarray, w2: np.ndarray, *, keepdims: bool) -> int:
    reduced, channels = w1.shape
    if w2.shape != (channels, reduced):
        walk.soft("fc2", f"FC shapes do not chain: W1 is {w1.shape} (out, in) but W2 is {w2.shape}")
    x_shape = walk.index.shape(x)
    if x_shape is not None:
        if len(x_shape) != 4:
            walk.soft("squeeze", f"the squeezed tensor has rank {len(x_shape)}, expected 4 (N, C, H, W)")
        elif isinstance(x_shape[1], int) and x_shape[1] != channels:
            walk.soft("fc1", f"FC1 takes {channels} channels but the squeezed tensor has {x_shape[1]}")
    gate_shape = walk.index.shape(gate_value)
    if gate_shape is None:
        if not keepdims or walk.views:
            walk.soft("scale", "cannot prove that the gate broadcasts as (N, C, 1, 1) over the input")
        return channels
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
        walk.soft("scale", f"the gate has shape {list(gate_shape)}; it must broadcast as (N, {channels}, 1, 1)")
    return channels


def _residual_tail(index: GraphIndex, mul: onnx.NodeProto, x: str) -> ResidualTail | None:
    y = mul.output[0]
    add_position = index.only_consumer(y)
    if add_position is None:
        return None
    add = index.nodes[add_position]
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(set(add.input)) != 2:
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
