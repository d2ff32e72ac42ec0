"""An ONNX rewrite for the TensorRT backend: each fused SE node lowered into the three single-kernel
plugin nodes that TensorRT's AOT plugins (``backends/tensorrt/plugin.py``) need.

The rewrite itself is plain ONNX (it imports no TensorRT); the node names, ``plugin_namespace`` and
``aot`` attributes are TensorRT's ONNX parser's convention for mapping a node onto a registered plugin.

A TensorRT AOT plugin (``@trtp.aot_impl``) returns exactly one kernel launch, and the SE needs three
(the excitation cannot start before every channel's mean is known): ``SESqueeze`` (X -> S, N x C fp32),
``SEExcite`` (S, W1, B1, W2, B2 -> G, N x C fp32) and ``SEScale`` / ``SEScaleResidual`` (X, G [, R] -> Y).
Each lowered node carries ``plugin_namespace`` and ``aot=1`` so TensorRT's ONNX parser maps it onto
the registered plugin, and each comes with a model-local ONNX function, so ONNX Runtime can run (and
the tests verify) the lowered graph.
"""

from __future__ import annotations

import copy

import onnx
from onnx import helper

from se_deploy.rewrite.fused_op import DOMAIN, PLUGIN_NAMESPACE, activation_nodes, gate_node
from se_deploy.se_variants import EXCITATION_ATTRIBUTES, SE_OP, SE_RESIDUAL_OP, SEVariant

SQUEEZE_OP, EXCITE_OP, SCALE_OP, SCALE_RESIDUAL_OP = "SESqueeze", "SEExcite", "SEScale", "SEScaleResidual"
LOWERED_OPS = (SQUEEZE_OP, EXCITE_OP, SCALE_OP, SCALE_RESIDUAL_OP)


def _attributes(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def variant_from_node(node: onnx.NodeProto) -> SEVariant:
    return SEVariant.from_attributes(_attributes(node), residual=node.op_type == SE_RESIDUAL_OP)


def lower_for_tensorrt(model: onnx.ModelProto, *, aot: bool = True) -> tuple[onnx.ModelProto, int]:
    """A copy of ``model`` with every fused SE node lowered; returns (model, number of nodes lowered)."""
    lowered = copy.deepcopy(model)
    nodes = []
    count = 0
    excite_variants: dict[str, SEVariant] = {}
    for node in model.graph.node:
        if node.domain != DOMAIN or node.op_type not in (SE_OP, SE_RESIDUAL_OP):
            nodes.append(node)
            continue
        count += 1
        variant = variant_from_node(node)
        x, w1, b1, w2, b2 = node.input[:5]
        base = node.name or f"se_{count}"
        squeezed, gates = f"{base}__squeezed", f"{base}__gates"
        common = {"plugin_namespace": PLUGIN_NAMESPACE, "aot": int(aot)}
        nodes.append(helper.make_node(SQUEEZE_OP, [x], [squeezed], name=f"{base}__squeeze", domain=DOMAIN, **common))
        excite = helper.make_node(
            EXCITE_OP,
            [squeezed, w1, b1, w2, b2],
            [gates],
            name=f"{base}__excite",
            domain=DOMAIN,
            **variant.excitation_attributes(),
            **common,
        )
        nodes.append(excite)
        excite_variants[variant.excitation_key] = variant
        if variant.residual:
            nodes.append(
                helper.make_node(
                    SCALE_RESIDUAL_OP,
                    [x, gates, node.input[5]],
                    list(node.output),
                    name=f"{base}__scale",
                    domain=DOMAIN,
                    residual_relu=int(variant.residual_relu),
                    **common,
                )
            )
        else:
            nodes.append(
                helper.make_node(
                    SCALE_OP, [x, gates], list(node.output), name=f"{base}__scale", domain=DOMAIN, **common
                )
            )
    del lowered.graph.node[:]
    lowered.graph.node.extend(nodes)
    opset = next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), 17)
    kept = [f for f in lowered.functions if not (f.domain == DOMAIN and f.name in (SE_OP, SE_RESIDUAL_OP))]
    del lowered.functions[:]
    lowered.functions.extend(kept + _functions(opset, list(excite_variants.values())))
    if len(excite_variants) > 1:
        # one excite body per (activation, gate): overloads, as for the fused op
        for node in lowered.graph.node:
            if node.domain == DOMAIN and node.op_type == EXCITE_OP:
                node.overload = variant_from_node(node).excitation_key
        lowered.ir_version = max(lowered.ir_version, 10)
    return lowered, count


def _functions(opset: int, excite_variants: list[SEVariant]) -> list[onnx.FunctionProto]:
    if not excite_variants:
        return []
    imports = [helper.make_opsetid("", opset)]
    common = ["plugin_namespace", "aot"]
    squeeze = helper.make_function(
        DOMAIN,
        SQUEEZE_OP,
        ["X"],
        ["S"],
        [
            helper.make_node("GlobalAveragePool", ["X"], ["P"]),
            helper.make_node("Flatten", ["P"], ["F"], axis=1),
            helper.make_node("Cast", ["F"], ["S"], to=onnx.TensorProto.FLOAT),
        ],
        imports,
        attributes=common,
    )
    scale = helper.make_function(
        DOMAIN,
        SCALE_OP,
        ["X", "G"],
        ["Y"],
        _scale_nodes(residual=False),
        imports,
        attributes=common,
    )
    scale_residual = helper.make_function(
        DOMAIN,
        SCALE_RESIDUAL_OP,
        ["X", "G", "R"],
        ["Y"],
        _scale_nodes(residual=True),
        imports,
        attributes=[*common, "residual_relu"],
    )
    functions = [squeeze, scale, scale_residual]
    overloaded = len(excite_variants) > 1  # excite_variants holds one variant per excitation_key
    for variant in excite_variants:
        overload = variant.excitation_key if overloaded else None
        functions.append(_excite_function(variant, opset, imports, overload=overload))
    return functions


def _scale_nodes(*, residual: bool) -> list[onnx.NodeProto]:
    nodes = [
        helper.make_node("Constant", [], ["axes"], value_ints=[2, 3]),
        helper.make_node("Unsqueeze", ["G", "axes"], ["G4"]),
        helper.make_node("CastLike", ["G4", "X"], ["Gx"]),
        helper.make_node("Mul", ["X", "Gx"], ["Y0" if residual else "Y"]),
    ]
    if residual:
        # residual_relu in {0, 1}: relu(z) * k + z * (1 - k) keeps one body for both settings
        nodes += [
            helper.make_node("Add", ["Y0", "R"], ["Z"]),
            helper.make_node("Relu", ["Z"], ["Zr"]),
            _constant_from_attribute("k_int", "residual_relu"),
            helper.make_node("CastLike", ["k_int", "Z"], ["k"]),
            helper.make_node("Sub", ["Zr", "Z"], ["D"]),
            helper.make_node("Mul", ["D", "k"], ["Dk"]),
            helper.make_node("Add", ["Z", "Dk"], ["Y"]),
        ]
    return nodes


def _constant_from_attribute(output: str, attribute: str) -> onnx.NodeProto:
    node = helper.make_node("Constant", [], [output])
    node.attribute.append(helper.make_attribute_ref("value_int", onnx.AttributeProto.INT, ref_attr_name=attribute))
    return node


def _excite_function(
    variant: SEVariant, opset: int, imports: list[onnx.OperatorSetIdProto], overload: str | None
) -> onnx.FunctionProto:
    nodes = [
        helper.make_node("CastLike", ["W1", "S"], ["W1f"]),
        helper.make_node("CastLike", ["B1", "S"], ["B1f"]),
        helper.make_node("CastLike", ["W2", "S"], ["W2f"]),
        helper.make_node("CastLike", ["B2", "S"], ["B2f"]),
        helper.make_node("Gemm", ["S", "W1f", "B1f"], ["H"], transB=1),
        *activation_nodes(variant.activation, "H", "A", opset=opset),
        helper.make_node("Gemm", ["A", "W2f", "B2f"], ["E"], transB=1),
        gate_node(variant.gate, "E", "G"),
    ]
    return helper.make_function(
        DOMAIN,
        EXCITE_OP,
        ["S", "W1", "B1", "W2", "B2"],
        ["G"],
        nodes,
        imports,
        attributes=[*(name for name, _ in EXCITATION_ATTRIBUTES), "plugin_namespace", "aot"],
        overload=overload,
    )
