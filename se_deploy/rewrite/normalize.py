"""Canonicalize a foreign ONNX graph before SE matching: exact rewrites only, graph inputs/outputs untouched.

Exporters other than torch.onnx spell the same network differently. Rather than teach every matcher
link every spelling, this pass rewrites the spellings that change no value into one form:

* the nodes are topologically sorted (FP16 converters append their input ``Cast`` nodes at the end);
* layout Transposes are sunk and cancelled (``layout.py``): an NHWC export's SE appears in NCHW;
* no-ops go: ``Identity``, inference ``Dropout`` (mask unused, not in training mode), a ``Cast`` to
  the type its input already has, and ``Unsqueeze``/``Squeeze`` pairs over the same axes;
* a per-channel bias or scale written as a separate ``Add``/``Mul`` after a ``Conv`` (Paddle2ONNX and
  tf2onnx write a bias-less 1x1 Conv then ``Add`` a ``[1,C,1,1]``, ``[C,1,1]`` or ``Reshape``d
  constant) is folded into that Conv's weights and bias.

Every rewrite keeps the value of every tensor that survives it, and the name of every graph input and
output; a tensor that vanishes (an Identity's output, a Conv's pre-bias output) is one no graph output
and no subgraph reads. A ``[C]`` constant added to an ``(N, C, H, W)`` Conv output broadcasts along W,
not the channels, so it is not a bias and is left alone.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from se_deploy.rewrite.graph import attribute, constant_node_value, topologically_sorted
from se_deploy.rewrite.layout import sink_transposes

_STANDARD = ("", "ai.onnx")


@dataclass(frozen=True)
class NormalizeResult:
    model: onnx.ModelProto
    changes: dict[str, int] = field(default_factory=dict)  # rewrite name -> times applied

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def normalize(model: onnx.ModelProto) -> NormalizeResult:
    """A sorted, canonical copy of ``model`` (the input is not modified)."""
    result = copy.deepcopy(model)
    topologically_sorted(result)
    changes: Counter[str] = Counter()
    sunk = sink_transposes(result)
    if sunk:
        changes["transpose_sunk"] = sunk
    for _ in range(8):  # each rewrite can expose another (Identity between Conv and its bias Add)
        before = sum(changes.values())
        state = _State(result)
        _fold_constants(state, changes)
        _drop_noops(state, changes)
        _fold_conv_affine(state, changes)
        state.commit()
        if sum(changes.values()) == before:
            break
    _drop_unused_initializers(result)
    return NormalizeResult(result, dict(changes))


class _State:
    """The graph being rewritten: nodes marked removed, value renames, and new initializers."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes = list(model.graph.node)
        self.removed: set[int] = set()
        self.protected = {v.name for v in self.graph.output} | {v.name for v in self.graph.input}
        self.protected |= _names_read_by_subgraphs(self.graph)
        self.initializers = {init.name: init for init in self.graph.initializer}
        self.producer = {name: i for i, node in enumerate(self.nodes) for name in node.output if name}
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.nodes):
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(i)
        self.types, self.ranks = _value_types(model)
        opsets = {imp.domain: imp.version for imp in model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 0))
        self.new_initializers: list[onnx.TensorProto] = []
        self.names = set(self.initializers) | set(self.producer) | {v.name for v in self.graph.input}

    def readers(self, name: str) -> list[int]:
        return [i for i in self.consumers.get(name, []) if i not in self.removed]

    def bypass(self, position: int, source: str, target: str) -> None:
        """Remove node ``position``; its output ``target`` is read from ``source`` instead."""
        self.removed.add(position)
        for reader in self.readers(target):
            node = self.nodes[reader]
            for k, name in enumerate(node.input):
                if name == target:
                    node.input[k] = source
            self.consumers.setdefault(source, []).append(reader)

    def constant(self, name: str, depth: int = 0) -> np.ndarray | None:
        """The value of ``name`` when it is computed from constants only (a few shape ops deep)."""
        if depth > 6 or not name:
            return None
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        position = self.producer.get(name)
        if position is None:
            return None
        node = self.nodes[position]
        if node.domain not in _STANDARD:
            return None
        if node.op_type == "Constant":
            return constant_node_value(node)
        if node.op_type == "Identity":
            return self.constant(node.input[0], depth + 1)
        if node.op_type == "Cast":
            value = self.constant(node.input[0], depth + 1)
            to = int(attribute(node, "to", 0))  # type: ignore[arg-type]
            return None if value is None else value.astype(onnx.helper.tensor_dtype_to_np_dtype(to))
        if node.op_type == "Reshape":
            data, shape = self.constant(node.input[0], depth + 1), self.constant(node.input[1], depth + 1)
            if data is None or shape is None:
                return None
            target = [int(s) for s in shape.reshape(-1)]
            if not int(attribute(node, "allowzero", 0)):  # type: ignore[arg-type]
                target = [data.shape[k] if s == 0 else s for k, s in enumerate(target)]
            try:
                return data.reshape(target)
            except ValueError:
                return None
        if node.op_type in ("Unsqueeze", "Squeeze"):
            data = self.constant(node.input[0], depth + 1)
            axes = self._axes(node)
            if data is None or axes is None:
                return None
            if node.op_type == "Squeeze":
                return np.squeeze(data, axis=tuple(a % data.ndim for a in axes)) if axes else np.squeeze(data)
            rank = data.ndim + len(axes)
            for axis in sorted(a % rank for a in axes):
                data = np.expand_dims(data, axis)
            return data
        return None

    def _axes(self, node: onnx.NodeProto) -> list[int] | None:
        if len(node.input) > 1 and node.input[1]:
            value = self.constant(node.input[1])
            return None if value is None else [int(a) for a in value.reshape(-1)]
        axes = attribute(node, "axes")
        return [] if axes is None else [int(a) for a in axes]  # type: ignore[union-attr]

    def add_initializer(self, base: str, value: np.ndarray) -> str:
        name, suffix = base, 0
        while name in self.names:
            suffix += 1
            name = f"{base}_{suffix}"
        self.names.add(name)
        tensor = numpy_helper.from_array(np.ascontiguousarray(value), name)
        self.new_initializers.append(tensor)
        self.initializers[name] = tensor
        return name

    def commit(self) -> None:
        kept = [node for i, node in enumerate(self.nodes) if i not in self.removed]
        del self.graph.node[:]
        self.graph.node.extend(kept)
        self.graph.initializer.extend(self.new_initializers)


# --- constants ----------------------------------------------------------------------------------

_FOLDABLE = ("Cast", "Reshape", "Unsqueeze", "Squeeze", "Identity")


def _fold_constants(state: _State, changes: Counter[str]) -> None:
    """A shape op or Cast applied to a constant becomes an initializer (FP16 converters cast constants)."""
    for position, node in enumerate(state.nodes):
        if position in state.removed or node.op_type not in _FOLDABLE or node.domain not in _STANDARD:
            continue
        out = node.output[0]
        if out in state.protected or not state.readers(out):
            continue
        if state.constant(node.input[0]) is None:
            continue
        value = state.constant(out)
        if value is None:
            continue
        state.bypass(position, state.add_initializer(f"{out}_folded", value), out)
        changes["constant_folded"] += 1


# --- no-ops ----------------------------------------------------------------------------------


def _drop_noops(state: _State, changes: Counter[str]) -> None:
    for position, node in enumerate(state.nodes):
        if position in state.removed or node.domain not in _STANDARD or not node.output:
            continue
        kind = _noop_kind(state, node)
        if kind is None:
            continue
        source, target = node.input[0], node.output[0]
        if target in state.protected or not source:
            continue
        state.bypass(position, source, target)
        changes[kind] += 1
    _collapse_squeeze_pairs(state, changes)


def _noop_kind(state: _State, node: onnx.NodeProto) -> str | None:
    if node.op_type == "Identity":
        return "identity"
    if node.op_type == "Dropout":
        if len(node.output) > 1 and node.output[1] and state.readers(node.output[1]):
            return None  # the mask is used
        if len(node.input) > 2 and node.input[2]:
            training = state.constant(node.input[2])
            if training is None or bool(training.reshape(())):
                return None
        if state.opset < 7 and not int(attribute(node, "is_test", 0)):  # type: ignore[arg-type]
            return None
        return "dropout"
    if node.op_type == "Cast":
        to = attribute(node, "to")
        source_type = state.types.get(node.input[0])
        if to is not None and source_type is not None and int(to) == source_type:  # type: ignore[call-overload]
            return "cast_to_same_type"
    return None


def _collapse_squeeze_pairs(state: _State, changes: Counter[str]) -> None:
    """``Unsqueeze(axes) -> Squeeze(axes)`` and ``Squeeze(axes) -> Unsqueeze(axes)`` give back their input."""
    pairs = {("Unsqueeze", "Squeeze"), ("Squeeze", "Unsqueeze")}
    for position, first in enumerate(state.nodes):
        if position in state.removed or first.op_type not in ("Unsqueeze", "Squeeze") or first.domain not in _STANDARD:
            continue
        middle = first.output[0]
        readers = state.readers(middle)
        if len(readers) != 1 or middle in state.protected:
            continue
        second = state.nodes[readers[0]]
        if (first.op_type, second.op_type) not in pairs or second.domain not in _STANDARD:
            continue
        first_axes, second_axes = state._axes(first), state._axes(second)
        if not first_axes or first_axes is None or second_axes is None:
            continue  # Squeeze without axes drops every 1: not provably undone
        # Both ops' axes count in the larger rank (Unsqueeze's output, Squeeze's input).
        rank = _rank(state, first.input[0] if first.op_type == "Squeeze" else middle)
        if rank is None:
            if any(a < 0 for a in (*first_axes, *second_axes)):
                continue
            rank = 64
        if sorted(a % rank for a in first_axes) != sorted(a % rank for a in second_axes):
            continue
        output = second.output[0]
        if output in state.protected:
            continue
        state.removed.add(position)
        state.bypass(readers[0], first.input[0], output)
        changes[f"{first.op_type.lower()}_{second.op_type.lower()}_pair"] += 1


def _rank(state: _State, name: str) -> int | None:
    return state.ranks.get(name)


# --- per-channel affine after a Conv -----------------------------------------------------------


def _fold_conv_affine(state: _State, changes: Counter[str]) -> None:
    for position, conv in enumerate(state.nodes):
        if position in state.removed or conv.op_type != "Conv" or conv.domain not in _STANDARD:
            continue
        out = conv.output[0]
        readers = state.readers(out)
        if len(readers) != 1 or out in state.protected:
            continue
        follower = state.nodes[readers[0]]
        if follower.op_type not in ("Add", "Mul") or follower.domain not in _STANDARD or len(set(follower.input)) != 2:
            continue
        weight = state.constant(conv.input[1])
        if weight is None or weight.ndim != 4:
            continue
        has_bias = len(conv.input) > 2 and bool(conv.input[2])
        bias = state.constant(conv.input[2]) if has_bias else np.zeros(weight.shape[0], dtype=weight.dtype)
        if bias is None:
            continue
        other = follower.input[1] if follower.input[0] == out else follower.input[0]
        value = state.constant(other)
        channels = weight.shape[0]
        per_channel = _per_channel(value, channels)
        if per_channel is None or value is None or value.dtype != weight.dtype:
            continue
        w64, b64 = weight.astype(np.float64), bias.astype(np.float64).reshape(channels)
        if follower.op_type == "Add":
            new_weight, new_bias = None, b64 + per_channel
            kind = "conv_bias_add"
        else:
            new_weight, new_bias = w64 * per_channel[:, None, None, None], b64 * per_channel
            kind = "conv_scale_mul"
        stem = conv.name or out
        if new_weight is not None:
            conv.input[1] = state.add_initializer(f"{stem}_weight_folded", new_weight.astype(weight.dtype))
        bias_name = state.add_initializer(f"{stem}_bias_folded", new_bias.astype(weight.dtype))
        if has_bias:
            conv.input[2] = bias_name
        else:
            while len(conv.input) < 2:
                conv.input.append("")
            conv.input.append(bias_name)
        # The Conv now computes the follower's value: it takes over the follower's output name.
        state.removed.add(readers[0])
        conv.output[0] = follower.output[0]
        state.producer[follower.output[0]] = position
        changes[kind] += 1


def _per_channel(value: np.ndarray | None, channels: int) -> np.ndarray | None:
    """``value`` as C numbers when it broadcasts over an (N, C, H, W) tensor along C only (or is a scalar)."""
    if value is None or value.ndim > 4 or not np.issubdtype(value.dtype, np.floating):
        return None
    shape = (1,) * (4 - value.ndim) + tuple(value.shape)
    if shape == (1, 1, 1, 1):
        return np.full(channels, float(value.reshape(())), dtype=np.float64)
    if shape == (1, channels, 1, 1):
        return value.reshape(channels).astype(np.float64)
    return None


# --- helpers ---------------------------------------------------------------------------------------


def _value_types(model: onnx.ModelProto) -> tuple[dict[str, int], dict[str, int]]:
    """Element type and rank of every value shape inference knows."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # best effort: a model with unknown ops still normalizes what it can
        inferred = model
    graph = inferred.graph
    values = (*graph.input, *graph.value_info, *graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in values}
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in values if v.type.tensor_type.HasField("shape")}
    types.update({init.name: init.data_type for init in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant":
            value = constant_node_value(node)
            if value is not None:
                types[node.output[0]] = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    return {name: t for name, t in types.items() if t}, ranks


def _names_read_by_subgraphs(graph: onnx.GraphProto) -> set[str]:
    names: set[str] = set()
    for node in graph.node:
        for attr in node.attribute:
            subgraphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            for sub in subgraphs:
                for inner in sub.node:
                    names.update(inner.input)
                names |= _names_read_by_subgraphs(sub)
    return names


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    """Drop initializers (and dead constant-only nodes) that the folding left unread."""
    graph = model.graph
    outputs = {v.name for v in graph.output}
    subgraph_reads = _names_read_by_subgraphs(graph)
    while True:
        read = {name for node in graph.node for name in node.input} | outputs | subgraph_reads
        dead = [
            i
            for i, node in enumerate(graph.node)
            if node.domain in _STANDARD
            and node.op_type in ("Constant", "Reshape", "Unsqueeze", "Squeeze", "Cast", "Identity")
            and not any(name in read for name in node.output if name)
        ]
        if not dead:
            break
        for i in reversed(dead):
            del graph.node[i]
    read = {name for node in graph.node for name in node.input} | outputs | subgraph_reads
    inputs = {v.name for v in graph.input}
    unused = [i for i, init in enumerate(graph.initializer) if init.name not in read and init.name not in inputs]
    for i in reversed(unused):
        del graph.initializer[i]
