"""A read-only index over an ONNX graph: producers, consumers, constants and inferred shapes.

The matcher asks "who reads this value", "is this input a constant", "what shape is this" many times;
this answers each in O(1) over the protobuf without copying the graph.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import numpy_helper

Dim = int | str | None  # a known size, a symbolic name, or unknown


class GraphIndex:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes: list[onnx.NodeProto] = list(model.graph.node)
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = defaultdict(list)
        for position, node in enumerate(self.nodes):
            for name in node.output:
                if name:
                    self.producer[name] = position
            for name in node.input:
                if name and position not in self.consumers[name]:
                    self.consumers[name].append(position)
        self.graph_outputs = {value.name for value in self.graph.output}
        self.initializers = {init.name: init for init in self.graph.initializer}
        self._constants: dict[str, np.ndarray | None] = {}
        self._shapes, self._types = _infer_shapes(model)
        opsets = {imp.domain: imp.version for imp in model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 0))

    def consumers_of(self, name: str) -> list[int]:
        """Positions of the nodes reading ``name`` (each once)."""
        return self.consumers.get(name, [])

    def only_consumer(self, name: str) -> int | None:
        """Position of the single node reading ``name``; None if several read it or it is a graph output."""
        readers = self.consumers_of(name)
        if len(readers) != 1 or name in self.graph_outputs:
            return None
        return readers[0]

    def constant(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant-node output (folding trivial Identity/Cast), else None."""
        if name in self._constants:
            return self._constants[name]
        value: np.ndarray | None = None
        if name in self.initializers:
            value = numpy_helper.to_array(self.initializers[name])
        elif name in self.producer:
            node = self.nodes[self.producer[name]]
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                value = constant_node_value(node)
            elif node.op_type == "Identity":
                value = self.constant(node.input[0])
            elif node.op_type == "Unsqueeze":  # an inlined fused SE node reshapes its weights this way
                value = self._unsqueezed(node)
        self._constants[name] = value
        return value

    def _unsqueezed(self, node: onnx.NodeProto) -> np.ndarray | None:
        data = self.constant(node.input[0])
        if data is None:
            return None
        has_axes_input = len(node.input) > 1 and bool(node.input[1])
        axes = self.constant(node.input[1]) if has_axes_input else attribute(node, "axes")
        if axes is None:
            return None
        result = data
        rank = data.ndim + len(np.atleast_1d(axes))
        for axis in sorted(int(a) % rank for a in np.atleast_1d(axes)):
            result = np.expand_dims(result, axis)
        return result

    def shape(self, name: str) -> tuple[Dim, ...] | None:
        return self._shapes.get(name)

    def elem_type(self, name: str) -> int | None:
        """ONNX TensorProto element type of ``name``, when known."""
        return self._types.get(name)


def attribute(node: onnx.NodeProto, name: str, default: object = None) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def constant_node_value(node: onnx.NodeProto) -> np.ndarray | None:
    """The value of a ``Constant`` node, whichever of its value attributes it uses; None when it has none."""
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    return None


def _infer_shapes(model: onnx.ModelProto) -> tuple[dict[str, tuple[Dim, ...]], dict[str, int]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # inference is best effort: unknown ops or inconsistent exports must not stop matching
        inferred = model
    shapes: dict[str, tuple[Dim, ...]] = {}
    types: dict[str, int] = {}
    graph = inferred.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        if not value.type.HasField("tensor_type"):
            continue
        tensor = value.type.tensor_type
        types[value.name] = tensor.elem_type
        if tensor.HasField("shape"):
            shapes[value.name] = tuple(
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
            )
    for init in graph.initializer:
        shapes[init.name] = tuple(init.dims)
        types[init.name] = init.data_type
    if any(name and not _static(shapes.get(name)) for node in graph.node for name in node.output):
        _merge_symbolic_shapes(model, shapes)
    return shapes, types


def _static(shape: tuple[Dim, ...] | None) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)


def _merge_symbolic_shapes(model: onnx.ModelProto, shapes: dict[str, tuple[Dim, ...]]) -> None:
    """Fill shapes ONNX's inference left unknown with ONNX Runtime's symbolic inference, which follows
    ``Shape -> Gather -> Concat -> Reshape`` chains over symbolic dims (the legacy exporter's ``view(b, c, 1, 1)``)."""
    import os
    import tempfile

    cwd = os.getcwd()
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        # When it cannot infer everything it saves the model as "sym_shape_infer_temp.onnx" in the
        # working directory before raising: let it write into a scratch folder, not the user's.
        with tempfile.TemporaryDirectory(prefix="se-deploy-shapes-") as scratch:
            os.chdir(scratch)
            try:
                inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
            finally:
                os.chdir(cwd)
    except Exception:  # best effort: unknown ops, custom domains, or a missing sympy
        return
    if inferred is None:
        return
    for value in (*inferred.graph.value_info, *inferred.graph.output):
        tensor = value.type.tensor_type
        if _static(shapes.get(value.name)) or not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
            continue  # one source of symbols per model: symbolic dims are all taken from this inference
        shapes[value.name] = tuple(
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
        )


def topologically_sorted(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with its main graph's nodes in an order where every input is produced first
    (stable: nodes already in order keep their order). Raises ValueError on a cycle."""
    graph = model.graph
    available = {v.name for v in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        still = []
        for node in pending:
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                still.append(node)
        if len(still) == len(pending):
            missing = sorted({n for node in still for n in node.input if n not in available})[:5]
            raise ValueError(f"the graph has a cycle or reads values nothing produces: {missing}")
        pending = still
    del graph.node[:]
    graph.node.extend(ordered)
    return model
