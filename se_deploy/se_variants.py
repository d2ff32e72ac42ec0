"""The table of SE variants: every activation and gate the fused SE op supports, one row each.

A leaf module (imports nothing of se_deploy). Everything that depends on the variant is derived from here:

* ``rewrite/fused_op.py``           the fused node's attributes, its ONNX function bodies, the numpy reference
* ``rewrite/plugin_lowering.py``    the SEExcite node's attributes and ONNX function body
* ``kernels/ops.py``                the PyTorch reference (and the torch op's arguments)
* ``kernels/se_triton.py``          the ``ACT`` / ``GATE`` constexpr codes (the kernels branch on them)
* ``backends/tensorrt/aot.py``      the excite kernel's constexprs
* ``backends/tensorrt/plugin.py``   the SEExcite plugin's attribute names and types (its signatures)
* ``backends/torch/fuse_modules.py`` which ``torch.nn`` modules are recognised as the activation / gate
* ``rewrite/match/activation.py``   which ONNX ops the matcher reads as the activation (``onnx_ops``)
* ``rewrite/match/gate.py``         which ONNX ops the matcher reads as the gate (``onnx_ops``)

Adding an activation or a gate is one row below (ONNX body, numpy and PyTorch formulas, Triton code,
torch.nn module names, the ONNX ops that spell it) plus its branch in ``kernels/se_triton.py``
(``_activate`` / ``_gate``: Triton kernels cannot call Python); ``tests/test_se_variants.py`` and
``tests/rewrite/match/test_table_rows.py`` then check the new row end to end.

Variant axes: activation (rows of ``ACTIVATIONS``, with ``activation_alpha`` for those that take a
parameter), gate (rows of ``GATES``, with ``gate_alpha``/``gate_beta``), residual (the
``SqueezeExcitationResidual`` op, with ``residual_activation`` in ``RESIDUAL_ACTIVATIONS``), and the
ONNX opset of the function bodies (``Activation.min_opset``, opset-dependent bodies).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import onnx
from onnx import helper

# --- ONNX building blocks of the rows ---------------------------------------------------------------


def _op(op_type: str) -> Callable[[str, str, int], list[onnx.NodeProto]]:
    """An activation that is one standard ONNX op without attributes."""
    return lambda x, y, opset: [helper.make_node(op_type, [x], [y])]


def _with_attribute_refs(node: onnx.NodeProto, refs: Mapping[str, str]) -> onnx.NodeProto:
    """``node`` reading its float attributes from the fused node's (``{op attribute: fused attribute}``)."""
    node.attribute.extend(
        helper.make_attribute_ref(name, onnx.AttributeProto.FLOAT, ref_attr_name=ref) for name, ref in refs.items()
    )
    return node


def _silu_onnx(x: str, y: str, opset: int) -> list[onnx.NodeProto]:
    return [helper.make_node("Sigmoid", [x], ["Hs"]), helper.make_node("Mul", [x, "Hs"], [y])]


def _hard_swish_onnx(x: str, y: str, opset: int) -> list[onnx.NodeProto]:
    """Below opset 14 (no HardSwish op) written ``x * HardSigmoid(x, 1/6, 1/2)``, as torch's exporter does."""
    if opset >= 14:
        return [helper.make_node("HardSwish", [x], [y])]
    return [
        helper.make_node("HardSigmoid", [x], ["Hs"], alpha=1.0 / 6.0, beta=0.5),
        helper.make_node("Mul", [x, "Hs"], [y]),
    ]


def _leaky_relu_onnx(x: str, y: str, opset: int) -> list[onnx.NodeProto]:
    return [_with_attribute_refs(helper.make_node("LeakyRelu", [x], [y]), {"alpha": "activation_alpha"})]


def _np_gelu(h: np.ndarray, alpha: float) -> np.ndarray:
    return 0.5 * h * (1.0 + np.vectorize(math.erf)(h / math.sqrt(2.0)))


def _functional(name: str, *, with_alpha: bool = False) -> Callable[[Any, float], Any]:
    """``torch.nn.functional.<name>`` as a row's PyTorch formula (torch is imported when it runs)."""

    def apply(h: Any, alpha: float) -> Any:
        import torch.nn.functional as F

        return getattr(F, name)(h, alpha) if with_alpha else getattr(F, name)(h)

    return apply


def _default_alpha(module: Any) -> float | None:
    return DEFAULT_ACTIVATION_ALPHA


@dataclass(frozen=True)
class OnnxOp:
    """A standard ONNX op that is a row by itself: the matcher reads a node of ``op_type`` as that row.

    ``parameters``: (fused attribute, the op's attribute, the op's ONNX default) per carried parameter.
    ``refusal``: why a node with these attributes (the parameters' defaults filled in) cannot be fused, else None.
    Written-out spellings (``x * Sigmoid(x)``, ``relu6(x + 3) / 6``, ...) are the matcher's, not rows here.
    """

    op_type: str
    parameters: tuple[tuple[str, str, float], ...] = ()
    refusal: Callable[[Mapping[str, object]], str | None] | None = None

    def attributes(self, node: onnx.NodeProto) -> dict[str, object]:
        """``node``'s attributes ``{name: value}``, the ONNX defaults of the parameters filled in."""
        values: dict[str, object] = {op_attribute: default for _, op_attribute, default in self.parameters}
        values.update((a.name, helper.get_attribute_value(a)) for a in node.attribute)
        return values

    def read(self, node: onnx.NodeProto) -> tuple[dict[str, float], str | None]:
        """The fused node's parameters ``{fused attribute: value}`` of ``node``, and why it is refused (or None)."""
        values = self.attributes(node)
        parameters = {fused: float(values[op_attribute]) for fused, op_attribute, _ in self.parameters}  # type: ignore[arg-type]
        return parameters, self.refusal(values) if self.refusal else None


def _gelu_refusal(attributes: Mapping[str, object]) -> str | None:
    if attributes.get("approximate", b"none") not in (b"none", "none"):
        return "tanh-approximated Gelu is not supported by the fused op"
    return None


def _hard_sigmoid_refusal(attributes: Mapping[str, object]) -> str | None:
    alpha = float(attributes["alpha"])  # type: ignore[arg-type]
    return None if alpha > 0 else f"HardSigmoid alpha={alpha} does not make a gate (needs alpha > 0)"


# --- the rows -----------------------------------------------------------------------------------------

DEFAULT_ACTIVATION_ALPHA = 0.01


@dataclass(frozen=True)
class Activation:
    """The activation between the two FC layers. ``alpha`` is the node's ``activation_alpha``."""

    name: str  # the fused node's ``activation`` attribute
    triton_code: int  # the kernels' ``ACT`` constexpr
    onnx_body: Callable[[str, str, int], list[onnx.NodeProto]]  # (input, output, opset) -> function-body nodes
    numpy: Callable[[np.ndarray, float], np.ndarray]  # (hidden, alpha), float64
    torch: Callable[[Any, float], Any]  # (hidden, alpha), FP32 tensors
    torch_modules: tuple[str, ...]  # torch.nn classes fuse_modules takes as this activation
    module_alpha: Callable[[Any], float | None] = _default_alpha  # a module's alpha; None: not this op's
    min_opset: int = 1  # the lowest ONNX opset its body can be written in
    onnx_ops: tuple[OnnxOp, ...] = ()  # standard ONNX ops the matcher reads as this activation


@dataclass(frozen=True)
class Gate:
    """The gate after the second FC layer. ``alpha``/``beta`` are the node's ``gate_alpha``/``gate_beta``."""

    name: str  # the fused node's ``gate`` attribute
    triton_code: int  # the kernels' ``GATE`` constexpr
    onnx_body: Callable[[str, str], onnx.NodeProto]  # (input, output) -> the function-body node
    numpy: Callable[[np.ndarray, float, float], np.ndarray]  # (excited, alpha, beta), float64
    torch: Callable[[Any, float, float], Any]  # (excited, alpha, beta), FP32 tensors
    torch_modules: tuple[str, ...]  # torch.nn classes fuse_modules takes as this gate
    onnx_ops: tuple[OnnxOp, ...] = ()  # standard ONNX ops the matcher reads as this gate


# name, Triton code, ONNX body, numpy formula, PyTorch formula, torch.nn modules[, module_alpha, min_opset,
# ONNX ops the matcher reads as the row (SiLU has none: ONNX writes it x * Sigmoid(x), which the matcher reads)]
ACTIVATIONS: tuple[Activation, ...] = (
    Activation(
        "relu", 0, _op("Relu"), lambda h, a: np.maximum(h, 0.0), _functional("relu"), ("ReLU",),
        onnx_ops=(OnnxOp("Relu"),),
    ),
    Activation("silu", 1, _silu_onnx, lambda h, a: h / (1.0 + np.exp(-h)), _functional("silu"), ("SiLU",)),
    Activation(
        "hard_swish", 2, _hard_swish_onnx, lambda h, a: h * np.clip(h / 6.0 + 0.5, 0.0, 1.0), _functional("hardswish"),
        ("Hardswish",), onnx_ops=(OnnxOp("HardSwish"),),
    ),
    Activation(
        "leaky_relu", 3, _leaky_relu_onnx, lambda h, a: np.where(h >= 0, h, a * h),
        _functional("leaky_relu", with_alpha=True), ("LeakyReLU",), module_alpha=lambda m: float(m.negative_slope),
        onnx_ops=(OnnxOp("LeakyRelu", (("activation_alpha", "alpha", 0.01),)),),
    ),
    Activation(
        "gelu", 4, _op("Gelu"), _np_gelu, _functional("gelu"), ("GELU",),
        # only the exact (erf) GELU is the op's: a tanh-approximated module is not swapped, nor a node matched
        module_alpha=lambda m: DEFAULT_ACTIVATION_ALPHA if m.approximate == "none" else None, min_opset=20,
        onnx_ops=(OnnxOp("Gelu", refusal=_gelu_refusal),),
    ),
)  # fmt: skip

# name, Triton code, ONNX body, numpy formula, PyTorch formula, torch.nn modules, ONNX ops the matcher reads
GATES: tuple[Gate, ...] = (
    Gate(
        "sigmoid", 0, lambda x, y: helper.make_node("Sigmoid", [x], [y]), lambda e, a, b: 1.0 / (1.0 + np.exp(-e)),
        lambda e, a, b: e.sigmoid(), ("Sigmoid",), onnx_ops=(OnnxOp("Sigmoid"),),
    ),
    Gate(
        "hard_sigmoid", 1,
        lambda x, y: _with_attribute_refs(
            helper.make_node("HardSigmoid", [x], [y]), {"alpha": "gate_alpha", "beta": "gate_beta"}
        ),
        lambda e, a, b: np.clip(a * e + b, 0.0, 1.0), lambda e, a, b: (a * e + b).clamp(0.0, 1.0), ("Hardsigmoid",),
        onnx_ops=(
            OnnxOp("HardSigmoid", (("gate_alpha", "alpha", 0.2), ("gate_beta", "beta", 0.5)), _hard_sigmoid_refusal),
        ),
    ),
)  # fmt: skip

RESIDUAL_ACTIVATIONS: tuple[str, ...] = ("relu", "none")  # after the residual add: the kernels' RESIDUAL_RELU

ACTIVATION_NAMES: tuple[str, ...] = tuple(row.name for row in ACTIVATIONS)
GATE_NAMES: tuple[str, ...] = tuple(row.name for row in GATES)
_ACTIVATIONS_BY_NAME = {row.name: row for row in ACTIVATIONS}
_GATES_BY_NAME = {row.name: row for row in GATES}


def activation_row(name: str) -> Activation:
    try:
        return _ACTIVATIONS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"activation must be one of {ACTIVATION_NAMES}, got {name!r}") from None


def gate_row(name: str) -> Gate:
    try:
        return _GATES_BY_NAME[name]
    except KeyError:
        raise ValueError(f"gate must be one of {GATE_NAMES}, got {name!r}") from None


# --- the variant passed around ------------------------------------------------------------------------

SE_OP = "SqueezeExcitation"  # the fused op (domain se_deploy; defined in rewrite/fused_op.py)
SE_RESIDUAL_OP = "SqueezeExcitationResidual"  # the fused op with the residual add (the residual axis)


@dataclass(frozen=True)
class Excitation:
    """Activation and gate with their parameters: the attributes of the SEExcite plugin and excite kernel.

    Its fields are the node/plugin attributes, in order (``EXCITATION_ATTRIBUTES``).
    """

    activation: str = "relu"
    activation_alpha: float = DEFAULT_ACTIVATION_ALPHA
    gate: str = "sigmoid"
    gate_alpha: float = 1.0 / 6.0
    gate_beta: float = 0.5

    def __post_init__(self) -> None:
        activation_row(self.activation)
        gate_row(self.gate)

    @property
    def activation_row(self) -> Activation:
        return _ACTIVATIONS_BY_NAME[self.activation]

    @property
    def gate_row(self) -> Gate:
        return _GATES_BY_NAME[self.gate]

    @property
    def excitation_key(self) -> str:
        """What selects an excitation body (values that are not ops are passed by attribute reference)."""
        return f"{self.activation}_{self.gate}"

    def excitation_attributes(self) -> dict[str, object]:
        """The excitation's node/plugin attributes, ``{name: value}`` in ``EXCITATION_ATTRIBUTES`` order."""
        return {name: kind(getattr(self, name)) for name, kind in EXCITATION_ATTRIBUTES}

    def triton_constexprs(self) -> dict[str, object]:
        """The excite kernel's variant constexprs (AOT: attributes are baked into the PTX)."""
        return {
            "ACT": self.activation_row.triton_code,
            "GATE": self.gate_row.triton_code,
            "ACT_ALPHA": float(self.activation_alpha),
            "GATE_ALPHA": float(self.gate_alpha),
            "GATE_BETA": float(self.gate_beta),
        }

    def activate_numpy(self, hidden: np.ndarray) -> np.ndarray:
        return self.activation_row.numpy(hidden, self.activation_alpha)

    def gate_numpy(self, excited: np.ndarray) -> np.ndarray:
        return self.gate_row.numpy(excited, self.gate_alpha, self.gate_beta)

    def activate_torch(self, hidden: Any) -> Any:
        return self.activation_row.torch(hidden, self.activation_alpha)

    def gate_torch(self, excited: Any) -> Any:
        return self.gate_row.torch(excited, self.gate_alpha, self.gate_beta)


@dataclass(frozen=True)
class SEVariant(Excitation):
    """The attribute values of one fused node: the excitation, and the residual add fused or not."""

    residual: bool = False
    residual_activation: str = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.residual_activation not in RESIDUAL_ACTIVATIONS:
            raise ValueError(f"residual_activation must be one of {RESIDUAL_ACTIVATIONS}")

    @property
    def op_type(self) -> str:
        return SE_RESIDUAL_OP if self.residual else SE_OP

    @property
    def residual_relu(self) -> bool:
        return self.residual_activation == "relu"

    @property
    def body_key(self) -> str:
        """What selects the fused op's function body."""
        return f"{self.excitation_key}_{self.residual_activation}" if self.residual else self.excitation_key

    def node_attributes(self) -> dict[str, object]:
        """The fused node's variant attributes (``residual_activation`` on the residual op only)."""
        attributes = self.excitation_attributes()
        if self.residual:
            attributes["residual_activation"] = self.residual_activation
        return attributes

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, object], *, residual: bool) -> SEVariant:
        """The variant of a node's attributes (ONNX strings may come as bytes; absent ones take defaults)."""
        values: dict[str, Any] = {}
        for name, kind in (*EXCITATION_ATTRIBUTES, ("residual_activation", str)):
            if name in attributes:
                value = attributes[name]
                values[name] = value.decode() if isinstance(value, bytes) else kind(value)  # type: ignore[operator]
        return cls(residual=residual, **values)


_KINDS = {"str": str, "float": float, "int": int, "bool": bool}
# (name, Python type) of the excitation attributes, in order: derived from ``Excitation``'s fields.
EXCITATION_ATTRIBUTES: tuple[tuple[str, type], ...] = tuple((f.name, _KINDS[str(f.type)]) for f in fields(Excitation))

DEFAULT_VARIANT = SEVariant()  # relu, sigmoid, no residual: the default of every function taking a variant
