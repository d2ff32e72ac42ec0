"""Graph surgery on matched SE blocks: fuse each into one node, or strip it out (the non-SE twin)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from se_deploy.rewrite.fused_op import DOMAIN, DOMAIN_VERSION, OVERLOAD_IR_VERSION, make_function, make_fused_node
from se_deploy.rewrite.graph import GraphIndex
from se_deploy.rewrite.match import MatchReport, SEBlock, find_se_blocks
from se_deploy.rewrite.normalize import normalize
from se_deploy.se_variants import SEVariant


@dataclass(frozen=True)
class SurgeryResult:
    model: onnx.ModelProto
    report: MatchReport
    removed_nodes: int
    added_nodes: int
    normalized: dict[str, int] = field(default_factory=dict)  # canonicalizing rewrites applied first


def variant_of(block: SEBlock, *, residual: bool) -> SEVariant:
    return SEVariant(
        activation=block.activation,
        activation_alpha=block.activation_alpha or 0.01,
        gate=block.gate,
        gate_alpha=block.gate_alpha,
        gate_beta=block.gate_beta,
        residual=residual and block.residual is not None,
        residual_activation=block.residual.activation if residual and block.residual else "relu",
    )


def fuse_se(model: onnx.ModelProto, *, residual: bool = True) -> SurgeryResult:
    """A copy of ``model`` with each SE block replaced by one ``se_deploy`` node (plus its ONNX function).

    The copy is normalized first (sorted, exporter no-ops dropped, separate Conv bias/scale folded).
    """
    normalized = normalize(model)
    model = normalized.model
    index = GraphIndex(model)
    report = find_se_blocks(model, residual=residual, index=index)
    variants = {block.name: variant_of(block, residual=residual) for block in report.blocks}
    bodies: dict[str, set[str]] = {}
    for variant in variants.values():
        bodies.setdefault(variant.op_type, set()).add(variant.body_key)
    # One body per op needs no overload; several (a model mixing activations or gates) do.
    use_overloads = any(len(keys) > 1 for keys in bodies.values())

    replacements: dict[int, onnx.NodeProto] = {}
    removed: set[int] = set()
    new_initializers: list[onnx.TensorProto] = []
    used_names = _all_names(model)
    for number, block in enumerate(report.blocks):
        variant = variants[block.name]
        prefix = _unique(f"se_deploy_{number}", used_names)
        weights = {"w1": block.w1, "b1": block.b1, "w2": block.w2, "b2": block.b2}
        inputs = [block.input]
        for key, value in weights.items():
            name = f"{prefix}_{key}"
            used_names.add(name)
            new_initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
            inputs.append(name)
        nodes = set(block.nodes)
        output = block.output
        if variant.residual and block.residual is not None:
            inputs.append(block.residual.residual_input)
            nodes.update(block.residual.nodes)
            output = block.residual.output
        overload = variant.body_key if use_overloads else None
        node = make_fused_node(inputs, output, variant, name=f"{prefix}_{block.name}", overload=overload)
        replacements[max(nodes)] = node  # the block's last node: every input is produced before it
        removed.update(nodes)

    fused = copy.deepcopy(model)
    kept = []
    for position, node in enumerate(model.graph.node):
        if position in replacements:
            kept.append(replacements[position])
        elif position not in removed:
            kept.append(node)
    _replace_nodes(fused, kept)
    fused.graph.initializer.extend(new_initializers)
    if report.blocks:
        _add_functions(fused, variants.values(), index.opset, use_overloads)
    _prune(fused)
    return SurgeryResult(fused, report, len(removed), len(replacements), normalized.changes)


def strip_se(model: onnx.ModelProto) -> SurgeryResult:
    """A copy of ``model`` (normalized first) with every SE block removed: the Mul's data input flows on."""
    normalized = normalize(model)
    model = normalized.model
    index = GraphIndex(model)
    report = find_se_blocks(model, residual=False, index=index)
    rename = {block.output: block.input for block in report.blocks}
    removed = {position for block in report.blocks for position in block.nodes}
    stripped = copy.deepcopy(model)
    kept = []
    identities = []
    graph_outputs = {value.name for value in model.graph.output}
    for position, node in enumerate(model.graph.node):
        if position in removed:
            if node.output[0] in rename and node.output[0] in graph_outputs:
                # A graph output keeps its name: it becomes an Identity of the SE input.
                identities.append(onnx.helper.make_node("Identity", [rename[node.output[0]]], [node.output[0]]))
            continue
        node = copy.deepcopy(node)
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
        kept.append(node)
    _replace_nodes(stripped, kept + identities)
    _prune(stripped)
    return SurgeryResult(stripped, report, len(removed), len(identities), normalized.changes)


def _add_functions(model: onnx.ModelProto, variants: Iterable[SEVariant], opset: int, use_overloads: bool) -> None:
    # make_function imports the model's default-domain opset: ONNX's checker requires the two to match.
    seen: set[tuple[str, str]] = set()
    for variant in variants:
        key = (variant.op_type, variant.body_key)
        if key in seen:
            continue
        seen.add(key)
        overload = variant.body_key if use_overloads else None
        model.functions.append(make_function(variant, opset, overload=overload))
    if not any(imp.domain == DOMAIN for imp in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(DOMAIN, DOMAIN_VERSION))
    if use_overloads and model.ir_version < OVERLOAD_IR_VERSION:
        model.ir_version = OVERLOAD_IR_VERSION


def _replace_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> None:
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes whose outputs nobody reads (shape helpers of removed views), then unused initializers."""
    graph = model.graph
    outputs = {value.name for value in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | outputs
        dead = [
            i
            for i, node in enumerate(graph.node)
            if not any(name in read for name in node.output if name) and node.domain in ("", "ai.onnx")
        ]
        if not dead:
            break
        for i in reversed(dead):
            del graph.node[i]
    read = {name for node in graph.node for name in node.input} | outputs
    unused = [i for i, init in enumerate(graph.initializer) if init.name not in read]
    for i in reversed(unused):
        del graph.initializer[i]
    produced = {name for node in graph.node for name in node.output} | {v.name for v in graph.input}
    stale = [i for i, value in enumerate(graph.value_info) if value.name not in produced]
    for i in reversed(stale):
        del graph.value_info[i]


def _all_names(model: onnx.ModelProto) -> set[str]:
    graph = model.graph
    names = {init.name for init in graph.initializer} | {v.name for v in graph.input}
    for node in graph.node:
        names.update(node.output)
        names.add(node.name)
    return names


def _unique(base: str, used: set[str]) -> str:
    name, suffix = base, 0
    while any(existing.startswith(name + "_") or existing == name for existing in used):
        suffix += 1
        name = f"{base}_{suffix}"
    used.add(name)
    return name
