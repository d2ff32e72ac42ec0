"""The fused SE operator: its one definition (name, inputs, attributes, semantics, ONNX function body).

``se_deploy::SqueezeExcitation`` (version 1)
    inputs  X (N, C, H, W), W1 (Cr, C), B1 (Cr), W2 (C, Cr), B2 (C)
    output  Y = X * gate(W2 @ act(W1 @ mean_hw(X) + B1) + B2), the gate broadcast over H, W
``se_deploy::SqueezeExcitationResidual`` (version 1)
    inputs  the five above and R (N, C, H, W)
    output  residual_act(Y + R), residual_act in {relu, none}: the SENet authors' "Axpy" fusion

Attributes: ``activation`` (a row of ``se_deploy/se_variants.py``: relu | silu | hard_swish | leaky_relu |
gelu), ``activation_alpha`` (leaky_relu's slope), ``gate`` (a row there: sigmoid | hard_sigmoid),
``gate_alpha``/``gate_beta`` (hard sigmoid: clip(alpha * x + beta, 0, 1)), ``residual_activation``
(residual op only) and ``plugin_namespace`` ("se_deploy", so TensorRT's ONNX parser maps the node onto
our plugin). The activation and gate parts of the bodies and of the numpy reference come from the table.

Every fused model also carries a model-local ONNX function per op, with this same semantics written
in standard ops, so any ONNX runtime runs it. A function body cannot switch ops on an attribute, so
each (activation, gate) combination gets its own body; a model that mixes combinations gets ONNX
function overloads (IR version 10) named after them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from se_deploy.se_variants import SEVariant, activation_row, gate_row

DOMAIN = "se_deploy"
DOMAIN_VERSION = 1
PLUGIN_NAMESPACE = "se_deploy"
OVERLOAD_IR_VERSION = 10


def make_fused_node(
    inputs: list[str], output: str, variant: SEVariant, *, name: str, overload: str | None = None
) -> onnx.NodeProto:
    expected = 6 if variant.residual else 5
    if len(inputs) != expected:
        raise ValueError(f"{variant.op_type} takes {expected} inputs, got {len(inputs)}")
    attrs = variant.node_attributes() | {"plugin_namespace": PLUGIN_NAMESPACE}
    return helper.make_node(variant.op_type, inputs, [output], name=name, domain=DOMAIN, overload=overload, **attrs)


def make_function(variant: SEVariant, opset: int, *, overload: str | None = None) -> onnx.FunctionProto:
    """The model-local function implementing ``variant`` in standard ONNX ops of ``opset``."""
    activation = variant.activation_row
    if opset < activation.min_opset:
        raise ValueError(f"{activation.name} needs opset >= {activation.min_opset}")
    nodes: list[onnx.NodeProto] = []
    if opset >= 13:
        nodes.append(helper.make_node("Constant", [], ["axes"], value_ints=[2, 3]))
        nodes.append(helper.make_node("Unsqueeze", ["W1", "axes"], ["W1k"]))
        nodes.append(helper.make_node("Unsqueeze", ["W2", "axes"], ["W2k"]))
    else:
        nodes.append(helper.make_node("Unsqueeze", ["W1"], ["W1k"], axes=[2, 3]))
        nodes.append(helper.make_node("Unsqueeze", ["W2"], ["W2k"], axes=[2, 3]))
    nodes.append(helper.make_node("GlobalAveragePool", ["X"], ["S"]))
    nodes.append(helper.make_node("Conv", ["S", "W1k", "B1"], ["H"]))
    nodes.extend(activation_nodes(variant.activation, "H", "A", opset=opset))
    nodes.append(helper.make_node("Conv", ["A", "W2k", "B2"], ["E"]))
    nodes.append(gate_node(variant.gate, "E", "G"))
    inputs = ["X", "W1", "B1", "W2", "B2"]
    attributes = [*variant.node_attributes(), "plugin_namespace"]
    if variant.residual:
        inputs.append("R")
        nodes.append(helper.make_node("Mul", ["X", "G"], ["Y0"]))
        if variant.residual_activation == "relu":
            nodes.append(helper.make_node("Add", ["Y0", "R"], ["Z"]))
            nodes.append(helper.make_node("Relu", ["Z"], ["Y"]))
        else:
            nodes.append(helper.make_node("Add", ["Y0", "R"], ["Y"]))
    else:
        nodes.append(helper.make_node("Mul", ["X", "G"], ["Y"]))
    return helper.make_function(
        DOMAIN,
        variant.op_type,
        inputs,
        ["Y"],
        nodes,
        [helper.make_opsetid("", opset)],
        attributes=attributes,
        doc_string=f"se-deploy fused Squeeze-and-Excitation ({variant.body_key}); see se_deploy/rewrite/fused_op.py",
        overload=overload,
    )


def gate_node(gate: str, x: str, y: str) -> onnx.NodeProto:
    """The gate inside a function body (its parameters read from the node's attributes): the table's row."""
    return gate_row(gate).onnx_body(x, y)


def activation_nodes(activation: str, x: str, y: str, *, opset: int = 14) -> list[onnx.NodeProto]:
    """The activation inside a function body (parameters read from the node's attributes): the table's row."""
    return activation_row(activation).onnx_body(x, y, opset)


def reference(
    x: np.ndarray,
    w1: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    variant: SEVariant,
    residual: np.ndarray | None = None,
) -> np.ndarray:
    """The op's semantics in numpy (float64 inside): the oracle for function bodies and kernels."""
    x64 = x.astype(np.float64)
    squeezed = x64.mean(axis=(2, 3))  # (N, C)
    hidden = variant.activate_numpy(squeezed @ w1.astype(np.float64).T + b1)
    gate = variant.gate_numpy(hidden @ w2.astype(np.float64).T + b2)
    out = x64 * gate[:, :, None, None]
    if variant.residual:
        if residual is None:
            raise ValueError("the residual variant needs a residual input")
        out = out + residual
        if variant.residual_relu:
            out = np.maximum(out, 0.0)
    return out.astype(x.dtype)
