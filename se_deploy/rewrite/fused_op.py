"""The fused SE operator: its one definition (name, inputs, attributes, semantics, ONNX function body).

``se_deploy::SqueezeExcitation`` (version 1)
    inputs  X (N, C, H, W), W1 (Cr, C), B1 (Cr), W2 (C, Cr), B2 (C)
    output  Y = X * gate(W2 @ act(W1 @ mean_hw(X) + B1) + B2), the gate broadcast over H, W
``se_deploy::SqueezeExcitationResidual`` (version 1)
    inputs  the five above and R (N, C, H, W)
    output  residual_act(Y + R), residual_act in {relu, none}: the SENet authors' "Axpy" fusion

Attributes: ``activation`` (relu | silu | hard_swish | leaky_relu | gelu), ``activation_alpha``
(leaky_relu's slope), ``gate`` (sigmoid | hard_sigmoid), ``gate_alpha``/``gate_beta`` (hard sigmoid:
clip(alpha * x + beta, 0, 1)), ``residual_activation`` (residual op only) and ``plugin_namespace``
("se_deploy", so TensorRT's ONNX parser maps the node onto our plugin).

Every fused model also carries a model-local ONNX function per op, with this same semantics written
in standard ops, so any ONNX runtime runs it. A function body cannot switch ops on an attribute, so
each (activation, gate) combination gets its own body; a model that mixes combinations gets ONNX
function overloads (IR version 10) named after them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

DOMAIN = "se_deploy"
DOMAIN_VERSION = 1
SE_OP = "SqueezeExcitation"
SE_RESIDUAL_OP = "SqueezeExcitationResidual"
PLUGIN_NAMESPACE = "se_deploy"

ACTIVATIONS: tuple[str, ...] = ("relu", "silu", "hard_swish", "leaky_relu", "gelu")
GATES: tuple[str, ...] = ("sigmoid", "hard_sigmoid")
RESIDUAL_ACTIVATIONS: tuple[str, ...] = ("relu", "none")
OVERLOAD_IR_VERSION = 10


@dataclass(frozen=True)
class SEVariant:
    """The attribute values of one fused node."""

    activation: str = "relu"
    activation_alpha: float = 0.01
    gate: str = "sigmoid"
    gate_alpha: float = 1.0 / 6.0
    gate_beta: float = 0.5
    residual: bool = False
    residual_activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {self.gate!r}")
        if self.residual_activation not in RESIDUAL_ACTIVATIONS:
            raise ValueError(f"residual_activation must be one of {RESIDUAL_ACTIVATIONS}")

    @property
    def op_type(self) -> str:
        return SE_RESIDUAL_OP if self.residual else SE_OP

    @property
    def body_key(self) -> str:
        """What selects the function body (attribute values that are not ops are passed by reference)."""
        key = f"{self.activation}_{self.gate}"
        return f"{key}_{self.residual_activation}" if self.residual else key


def make_fused_node(
    inputs: list[str], output: str, variant: SEVariant, *, name: str, overload: str | None = None
) -> onnx.NodeProto:
    expected = 6 if variant.residual else 5
    if len(inputs) != expected:
        raise ValueError(f"{variant.op_type} takes {expected} inputs, got {len(inputs)}")
    attrs: dict[str, object] = {
        "activation": variant.activation,
        "activation_alpha": float(variant.activation_alpha),
        "gate": variant.gate,
        "gate_alpha": float(variant.gate_alpha),
        "gate_beta": float(variant.gate_beta),
        "plugin_namespace": PLUGIN_NAMESPACE,
    }
    if variant.residual:
        attrs["residual_activation"] = variant.residual_activation
    return helper.make_node(variant.op_type, inputs, [output], name=name, domain=DOMAIN, overload=overload, **attrs)


def make_function(variant: SEVariant, opset: int, *, overload: str | None = None) -> onnx.FunctionProto:
    """The model-local function implementing ``variant`` in standard ONNX ops of ``opset``."""
    if variant.activation == "gelu" and opset < 20:
        raise ValueError("gelu needs opset >= 20 (Gelu)")
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
    attributes = ["activation", "activation_alpha", "gate", "gate_alpha", "gate_beta", "plugin_namespace"]
    if variant.residual:
        inputs.append("R")
        attributes.append("residual_activation")
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
    """The gate inside a function body; a hard sigmoid reads alpha/beta from the node's attributes."""
    if gate == "sigmoid":
        return helper.make_node("Sigmoid", [x], [y])
    node = helper.make_node("HardSigmoid", [x], [y])
    node.attribute.extend(
        [
            helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT, ref_attr_name="gate_alpha"),
            helper.make_attribute_ref("beta", onnx.AttributeProto.FLOAT, ref_attr_name="gate_beta"),
        ]
    )
    return node


def activation_nodes(activation: str, x: str, y: str, *, opset: int = 14) -> list[onnx.NodeProto]:
    """The activation inside a function body (leaky ReLU reads its slope from the node's attributes).

    Below opset 14 (no HardSwish op) hard swish is written ``x * HardSigmoid(x, 1/6, 1/2)``, as torch's
    exporter writes it there.
    """
    if activation == "hard_swish" and opset < 14:
        return [
            helper.make_node("HardSigmoid", [x], ["Hs"], alpha=1.0 / 6.0, beta=0.5),
            helper.make_node("Mul", [x, "Hs"], [y]),
        ]
    if activation == "relu":
        return [helper.make_node("Relu", [x], [y])]
    if activation == "silu":
        return [helper.make_node("Sigmoid", [x], ["Hs"]), helper.make_node("Mul", [x, "Hs"], [y])]
    if activation == "hard_swish":
        return [helper.make_node("HardSwish", [x], [y])]
    if activation == "gelu":
        return [helper.make_node("Gelu", [x], [y])]
    leaky = helper.make_node("LeakyRelu", [x], [y])
    leaky.attribute.append(
        helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT, ref_attr_name="activation_alpha")
    )
    return [leaky]


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
    hidden = squeezed @ w1.astype(np.float64).T + b1
    hidden = _np_activation(hidden, variant)
    excited = hidden @ w2.astype(np.float64).T + b2
    if variant.gate == "sigmoid":
        gate = 1.0 / (1.0 + np.exp(-excited))
    else:
        gate = np.clip(variant.gate_alpha * excited + variant.gate_beta, 0.0, 1.0)
    out = x64 * gate[:, :, None, None]
    if variant.residual:
        if residual is None:
            raise ValueError("the residual variant needs a residual input")
        out = out + residual
        if variant.residual_activation == "relu":
            out = np.maximum(out, 0.0)
    return out.astype(x.dtype)


def _np_activation(h: np.ndarray, variant: SEVariant) -> np.ndarray:
    if variant.activation == "relu":
        return np.maximum(h, 0.0)
    if variant.activation == "silu":
        return h / (1.0 + np.exp(-h))
    if variant.activation == "hard_swish":
        return h * np.clip(h / 6.0 + 0.5, 0.0, 1.0)
    if variant.activation == "leaky_relu":
        return np.where(h >= 0, h, variant.activation_alpha * h)
    from math import erf, sqrt

    return 0.5 * h * (1.0 + np.vectorize(erf)(h / sqrt(2.0)))
