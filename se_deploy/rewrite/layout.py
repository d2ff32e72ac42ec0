"""Sink layout Transposes so an NHWC export's SE blocks appear in NCHW (tf2onnx without its optimizer).

tf2onnx converts a Keras (NHWC) model by wrapping every Conv in ``Transpose(0,3,1,2) -> Conv ->
Transpose(0,2,3,1)``; its transpose optimizer usually removes the pairs, but when it fails (tf2onnx
1.17 crashes on a scalar ``Add``, which Keras' MobileNetV3 hard sigmoid has) the SE stays in NHWC:
``ReduceMean(axes 1,2)`` of a transposed tensor, and the excitation's ops between transposes.

Each rewrite moves a Transpose below an op or cancels an inverse pair, and computes the same values:

* ``U(T_p(a)) = T_p(U(a))`` for elementwise ``U`` (activations, arithmetic with a scalar constant);
* ``B(T_p(a), T_p(b)) = T_p(B(a, b))`` for broadcasting ``Add/Sub/Mul/Div`` of two tensors transposed
  alike, and ``B(T_p(a), c) = T_p(B(a, T_p^-1(c)))`` when ``c`` is a constant or a ``Reshape`` whose
  permutation only moves size-1 dims (a ``view(N, 1, 1, C)`` gate);
* ``ReduceMean_axes(T_p(a)) = T_p(ReduceMean_p(axes)(a))`` (keepdims), or without the Transpose when
  keepdims=0 leaves the kept axes in order;
* ``T_q(T_p(a)) = a`` when ``q`` undoes ``p``; ``T_p(Reshape(x, s)) = Reshape(x, p(s))`` when ``p``
  only moves size-1 dims of ``s``.

Graph inputs and outputs keep their names and values.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from se_deploy.rewrite.graph import attribute, topologically_sorted

_STANDARD = ("", "ai.onnx")
_UNARY = frozenset({"Relu", "Sigmoid", "HardSigmoid", "LeakyRelu", "HardSwish", "Tanh", "Clip", "Identity"})
_BINARY = frozenset({"Add", "Sub", "Mul", "Div"})


def sink_transposes(model: onnx.ModelProto, *, max_passes: int = 64) -> int:
    """Rewrite ``model`` in place; returns how many rewrites were applied."""
    if not any(node.op_type == "Transpose" for node in model.graph.node):
        return 0
    total = 0
    for _ in range(max_passes):
        applied = _Pass(model).run()
        if not applied:
            break
        total += applied
        _prune(model)
        topologically_sorted(model)
    return total


class _Pass:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes = list(self.graph.node)
        self.producer = {out: i for i, node in enumerate(self.nodes) for out in node.output if out}
        self.initializers = {init.name: init for init in self.graph.initializer}
        self.outputs = {value.name for value in self.graph.output}
        self.names = set(self.producer) | set(self.initializers) | {value.name for value in self.graph.input}
        opsets = {imp.domain: imp.version for imp in model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 0))
        self.touched: set[int] = set()
        self.replaced: dict[int, list[onnx.NodeProto]] = {}
        self.new_initializers: list[onnx.TensorProto] = []

    def run(self) -> int:
        count = 0
        for position, node in enumerate(self.nodes):
            if position in self.touched or node.domain not in _STANDARD:
                continue
            if self._rewrite(position, node):
                count += 1
        if count:
            rebuilt: list[onnx.NodeProto] = []
            for position, node in enumerate(self.nodes):
                rebuilt.extend(self.replaced.get(position, [node]))
            del self.graph.node[:]
            self.graph.node.extend(rebuilt)
            self.graph.initializer.extend(self.new_initializers)
        return count

    # --- helpers -------------------------------------------------------------------------------

    def transpose_of(self, name: str) -> tuple[int, str, list[int]] | None:
        """(position, input, perm) when ``name`` is a Transpose's output."""
        position = self.producer.get(name)
        if position is None:
            return None
        node = self.nodes[position]
        if node.op_type != "Transpose" or node.domain not in _STANDARD:
            return None
        perm = attribute(node, "perm")
        if perm is None:
            return None
        return position, node.input[0], [int(p) for p in perm]  # type: ignore[union-attr]

    def constant(self, name: str) -> np.ndarray | None:
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        position = self.producer.get(name)
        if position is not None and self.nodes[position].op_type == "Constant":
            for attr in self.nodes[position].attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
        return None

    def fresh(self, base: str) -> str:
        name, suffix = f"{base}_nchw", 0
        while name in self.names:
            suffix += 1
            name = f"{base}_nchw_{suffix}"
        self.names.add(name)
        return name

    def add_constant(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.new_initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def replace(self, position: int, nodes: list[onnx.NodeProto]) -> None:
        self.replaced[position] = nodes
        self.touched.add(position)

    # --- rewrites ------------------------------------------------------------------------------

    def _rewrite(self, position: int, node: onnx.NodeProto) -> bool:
        op = node.op_type
        if op == "Transpose":
            return self._cancel_or_reshape(position, node)
        if op in _UNARY and node.input and self._unary_operands_constant(node):
            return self._sink_unary(position, node)
        if op in _BINARY and len(node.input) == 2:
            return self._sink_binary(position, node)
        if op == "ReduceMean":
            return self._sink_reduce(position, node)
        return False

    def _unary_operands_constant(self, node: onnx.NodeProto) -> bool:
        return all(self.constant(name) is not None for name in node.input[1:] if name)

    def _sink_unary(self, position: int, node: onnx.NodeProto) -> bool:
        source = self.transpose_of(node.input[0])
        if source is None or source[0] in self.touched:
            return False
        _, inner, perm = source
        moved = onnx.NodeProto()
        moved.CopyFrom(node)
        moved.input[0] = inner
        moved.output[0] = self.fresh(node.output[0])
        moved.name = node.name + "_nchw" if node.name else ""
        transpose = helper.make_node("Transpose", [moved.output[0]], [node.output[0]], perm=perm)
        self.replace(position, [moved, transpose])
        return True

    def _sink_binary(self, position: int, node: onnx.NodeProto) -> bool:
        a, b = self.transpose_of(node.input[0]), self.transpose_of(node.input[1])
        if a is not None and b is not None:
            if a[2] != b[2]:
                return False
            perm, left, right = a[2], a[1], b[1]
        elif a is not None or b is not None:
            source = a if a is not None else b
            assert source is not None
            perm = source[2]
            other = node.input[1] if a is not None else node.input[0]
            moved_other = self._untransposed(other, perm)
            if moved_other is None:
                return False
            left, right = (source[1], moved_other) if a is not None else (moved_other, source[1])
        else:
            return False
        out = self.fresh(node.output[0])
        self.replace(
            position,
            [
                helper.make_node(node.op_type, [left, right], [out], name=node.name + "_nchw" if node.name else ""),
                helper.make_node("Transpose", [out], [node.output[0]], perm=perm),
            ],
        )
        return True

    def _untransposed(self, name: str, perm: list[int]) -> str | None:
        """A value ``v`` with ``T_perm(v)`` equal to ``name``'s value, for a constant or a size-1-moving Reshape."""
        inverse = [perm.index(i) for i in range(len(perm))]
        value = self.constant(name)
        if value is not None:
            if value.ndim > len(perm):
                return None
            full = value.reshape((1,) * (len(perm) - value.ndim) + value.shape)
            return self.add_constant(name, np.transpose(full, inverse))
        position = self.producer.get(name)
        if position is None:
            return None
        node = self.nodes[position]
        if node.op_type != "Reshape" or node.domain not in _STANDARD or position in self.touched:
            return None
        shape = self.constant(node.input[1])
        if shape is None or shape.size != len(perm):
            return None
        target = [int(s) for s in shape.reshape(-1)]
        moved = [target[i] for i in inverse]
        if [s for s in moved if s != 1] != [s for s in target if s != 1]:
            return None  # the permutation moves a dim larger than 1: a real transpose, not a view
        out = self.fresh(node.output[0])
        shape_name = self.add_constant(node.input[1], np.array(moved, dtype=np.int64))
        self.replaced.setdefault(position, [node]).append(
            helper.make_node("Reshape", [node.input[0], shape_name], [out])
        )
        self.touched.add(position)
        return out

    def _sink_reduce(self, position: int, node: onnx.NodeProto) -> bool:
        source = self.transpose_of(node.input[0])
        if source is None:
            return False
        _, inner, perm = source
        rank = len(perm)
        if self.opset >= 18:
            axes_value = self.constant(node.input[1]) if len(node.input) > 1 and node.input[1] else None
            if axes_value is None:
                return False
            axes = [int(a) % rank for a in axes_value.reshape(-1)]
        else:
            raw = attribute(node, "axes")
            if raw is None:
                return False
            axes = [int(a) % rank for a in raw]  # type: ignore[union-attr]
        keepdims = int(attribute(node, "keepdims", 1))  # type: ignore[arg-type]
        inner_axes = sorted(perm[a] for a in axes)
        kept = [perm[a] for a in range(rank) if a not in axes]
        if not keepdims and kept != sorted(kept):
            return False
        out = self.fresh(node.output[0]) if keepdims else node.output[0]
        if self.opset >= 18:
            axes_name = self.add_constant(node.input[1], np.array(inner_axes, dtype=np.int64))
            reduce = helper.make_node("ReduceMean", [inner, axes_name], [out], keepdims=keepdims)
        else:
            reduce = helper.make_node("ReduceMean", [inner], [out], axes=inner_axes, keepdims=keepdims)
        reduce.name = node.name + "_nchw" if node.name else ""
        nodes = [reduce]
        if keepdims:
            nodes.append(helper.make_node("Transpose", [out], [node.output[0]], perm=perm))
        self.replace(position, nodes)
        return True

    def _cancel_or_reshape(self, position: int, node: onnx.NodeProto) -> bool:
        perm = attribute(node, "perm")
        if perm is None:
            return False
        perm = [int(p) for p in perm]  # type: ignore[union-attr]
        source = self.transpose_of(node.input[0])
        if source is not None and [source[2][p] for p in perm] == list(range(len(perm))):
            self.replace(position, [helper.make_node("Identity", [source[1]], [node.output[0]])])
            return True
        producer = self.producer.get(node.input[0])
        if (
            producer is None
            or self.nodes[producer].op_type != "Reshape"
            or self.nodes[producer].domain not in _STANDARD
        ):
            return False
        reshape = self.nodes[producer]
        shape = self.constant(reshape.input[1])
        if shape is None or shape.size != len(perm) or 0 in shape:
            return False
        target = [int(v) for v in shape.reshape(-1)]
        moved = [target[p] for p in perm]
        if [v for v in moved if v != 1] != [v for v in target if v != 1]:
            return False  # moves a dim larger than 1: a real transpose
        shape_name = self.add_constant(reshape.input[1], np.array(moved, dtype=np.int64))
        self.replace(position, [helper.make_node("Reshape", [reshape.input[0], shape_name], [node.output[0]])])
        return True


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes nobody reads (the Transposes the rewrites bypassed) and Identity chains they left."""
    graph = model.graph
    outputs = {value.name for value in graph.output}
    rename: dict[str, str] = {}
    kept = []
    has_subgraphs = any(
        attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for attr in n.attribute
    )
    for node in graph.node:
        if (
            node.op_type == "Identity"
            and node.domain in _STANDARD
            and node.output[0] not in outputs
            and not has_subgraphs
        ):
            rename[node.output[0]] = node.input[0]
            continue
        kept.append(node)
    for node in kept:
        for k, name in enumerate(node.input):
            while name in rename:
                name = rename[name]
            node.input[k] = name
    while True:
        read = {name for node in kept for name in node.input} | outputs
        alive = [n for n in kept if n.domain not in _STANDARD or any(o in read for o in n.output if o)]
        if len(alive) == len(kept):
            break
        kept = alive
    del graph.node[:]
    graph.node.extend(kept)
    read = {name for node in kept for name in node.input} | {value.name for value in graph.input}
    unused = [i for i, init in enumerate(graph.initializer) if init.name not in read]
    for i in reversed(unused):
        del graph.initializer[i]
