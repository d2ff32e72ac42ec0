"""One candidate's walk down the SE chain: the nodes taken, the value at its head, and why it stopped.

Each link module (squeeze, fc, activation, gate, scale) moves the head forward with ``take`` and says
why it cannot with ``Stop`` (the walk ends) or ``soft`` (the walk goes on, the candidate is a near miss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from se_deploy.rewrite.graph import GraphIndex

# Stages in walk order: the ``stage`` of a near miss.
STAGES: tuple[str, ...] = ("squeeze", "fc1", "activation", "fc2", "gate", "scale")
STANDARD_DOMAINS = ("", "ai.onnx")
# Ops that only re-view the (N, C) / (N, C, 1, 1) excitation tensor.
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


def is_standard(node: onnx.NodeProto) -> bool:
    return node.domain in STANDARD_DOMAINS


def qualified_op(node: onnx.NodeProto) -> str:
    """``Relu`` for a standard op, ``domain::Op`` otherwise (so a custom ``Relu`` is not taken for ONNX's)."""
    return node.op_type if is_standard(node) else f"{node.domain}::{node.op_type}"


class Stop(Exception):
    """The walk cannot go on: ``stage`` says where, ``reason`` why."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass
class Walk:
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
        """Readers of ``value``, less Shape nodes (they read metadata only; see ``scale.check_shape_reads``)."""
        readers = []
        for position in self.index.consumers_of(value):
            if self.node(position).op_type == "Shape":
                self.shape_reads.append(position)
            else:
                readers.append(position)
        return readers

    def next_node(self, stage: str) -> onnx.NodeProto:
        """The single reader of the head; it must read nothing else of the SE's inner values."""
        readers = self.readers(self.head)
        if not readers:
            raise Stop(stage, f"{self.head!r} is not read by any node")
        if self.head in self.index.graph_outputs:
            raise Stop(stage, f"{self.head!r} is also a graph output, so it cannot be fused away")
        if len(readers) > 1:
            ops = ", ".join(self.node(r).op_type for r in readers)
            raise Stop(
                stage, f"{self.head!r} is read by {len(readers)} nodes ({ops}); an SE's inner values have one reader"
            )
        return self.node(readers[0])

    def take(self, node: onnx.NodeProto, output_index: int = 0) -> None:
        self.nodes.append(self.index.producer[node.output[0]])
        self.head = node.output[output_index]

    def skip_views(self, extra: frozenset[str] = frozenset()) -> None:
        """Take the reshapes between two links (``extra``: more ops that count as views here)."""
        while True:
            readers = self.readers(self.head)
            if len(readers) != 1 or self.head in self.index.graph_outputs:
                return
            node = self.node(readers[0])
            if node.op_type not in VIEW_OPS | extra or not is_standard(node) or node.input[0] != self.head:
                return
            self.views.append(node.op_type)
            self.take(node)

    def soft(self, stage: str, reason: str) -> None:
        self.problems.append((stage, reason))
