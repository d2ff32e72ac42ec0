"""An ONNX graph edited in place (producer / consumer indexes, fresh names, dead-node removal) and the
small node predicates the SE-native rewrite and gate folding read ORT's optimized graph with."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper

Shape = tuple[int, ...]
# node roles (names) that bench --profile tells apart from the SE's own passes (bench/profile.py)
FOLDED_CONV = "FoldedConv"  # a conv of the network itself, running with gate-scaled weights
GATE_WEIGHTS = "GateWeights"  # the gate multiplied into a conv's weights


class EditableGraph:
    """Producer / consumer indexes over a GraphProto that is edited in place."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.initializers = {i.name: i for i in graph.initializer}
        self.outputs = {o.name for o in graph.output}
        self.all: list[onnx.NodeProto] = list(graph.node)  # held, so id() of each node stays valid
        self.removed: set[int] = set()
        self._names: Counter[str] = Counter()
        self.reindex()

    def reindex(self) -> None:
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes():
            for out in node.output:
                if out:
                    self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)

    def nodes(self) -> list[onnx.NodeProto]:
        return [n for n in self.all if id(n) not in self.removed]

    def fresh(self, base: str) -> str:
        self._names[base] += 1
        return f"se_native/{base}_{self._names[base]}"

    def const(self, base: str, values: np.ndarray) -> str:
        name = self.fresh(base)
        self.graph.initializer.append(numpy_helper.from_array(values, name))
        self.initializers[name] = self.graph.initializer[-1]
        return name

    def add(
        self, op: str, inputs: list[str], outputs: list[str], *, domain: str = "", role: str = "", **attrs: object
    ) -> None:
        """Append a node named ``se_native/<role or op>_<k>`` (the role names it for bench --profile)."""
        node = helper.make_node(op, inputs, outputs, name=self.fresh(role or op), domain=domain, **attrs)
        self.all.append(node)

    def view(self, blocked: str, shape: list[int] | tuple[int, ...]) -> str:
        """``blocked`` ([N, C/b, H, W, b] bytes) reshaped to ``shape``: one sample of N*C channels, or back to N
        samples of C (0: keep dim)."""
        out = self.fresh("flat")
        self.add("Reshape", [blocked, self.const("shape_flat", np.array(shape, np.int64))], [out])
        return out

    def remove(self, node: onnx.NodeProto) -> None:
        self.removed.add(id(node))

    def rename_uses(self, old: str, new: str) -> None:
        for node in self.nodes():
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = new

    def used(self, name: str) -> bool:
        return name in self.outputs or any(name in n.input for n in self.nodes())

    def finish(self) -> None:
        """Drop dead nodes and unused initializers, then write the nodes back in topological order."""
        producer = {out: node for node in self.nodes() for out in node.output if out}
        needed: set[str] = set()
        keep: dict[int, onnx.NodeProto] = {}
        stack = list(self.outputs)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            node = producer.get(name)
            if node is not None and id(node) not in keep:
                keep[id(node)] = node
                stack.extend(i for i in node.input if i)
        ordered = topological(list(keep.values()), self.graph)
        kept_inits = [i for i in self.graph.initializer if i.name in needed]
        del self.graph.node[:]
        self.graph.node.extend(ordered)
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept_inits)


def topological(nodes: list[onnx.NodeProto], graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(nodes)
    order: list[onnx.NodeProto] = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            raise ValueError("the rewritten graph has a cycle or a dangling input")  # a bug, not a user error
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
        for node in ready:
            order.append(node)
            available.update(node.output)
    return order


def attribute(node: onnx.NodeProto, name: str, default: object = None) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def is_op(node: onnx.NodeProto | None, op: str, domain: str = "") -> bool:
    return node is not None and node.op_type == op and node.domain == domain


def label(node: onnx.NodeProto) -> str:
    return node.name or node.output[0]
