"""Swap the SE modules of a PyTorch model for one fused op call each (and fold residual adds in our zoo).

Recognised: modules with two 1x1 convs or two Linear layers as FCs under the usual names (``fc1``/``fc2``,
``conv_reduce``/``conv_expand``, ``fc.0``/``fc.2``), an activation (``act``/``activation``/``relu``) and
a gate (``gate``/``scale_activation``/``sigmoid``) of a known kind: se-deploy's zoo, timm
(``SEModule``, ``SqueezeExcite``), torchvision (``SqueezeExcitation``) and senet.pytorch's ``SELayer``.
Every candidate is checked on a probe input before it is swapped; one that computes anything else is
left alone and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

import se_deploy.kernels.ops
from se_deploy.models.resnet import BasicBlock, Bottleneck
from se_deploy.se_variants import ACTIVATIONS, DEFAULT_VARIANT, GATES, Activation, Gate, SEVariant

# torch.nn module classes -> the table's rows (se_deploy/se_variants.py: ``torch_modules``)
_ACTIVATIONS: dict[type[nn.Module], Activation] = {
    getattr(nn, m): row for row in ACTIVATIONS for m in row.torch_modules
}
_GATES: dict[type[nn.Module], Gate] = {getattr(nn, m): row for row in GATES for m in row.torch_modules}
_FC_NAMES = (("fc1", "fc2"), ("conv_reduce", "conv_expand"))
_ACT_NAMES = ("act", "activation", "relu", "act1")
_GATE_NAMES = ("gate", "scale_activation", "sigmoid")


class FusedSqueezeExcitation(nn.Module):
    """One ``se_deploy::squeeze_excitation`` call; ``forward(x, residual)`` also folds a residual add.

    ``variant`` gives activation and gate; the residual and its ReLU are ``forward``'s arguments."""

    def __init__(
        self,
        w1: torch.Tensor,
        b1: torch.Tensor,
        w2: torch.Tensor,
        b2: torch.Tensor,
        variant: SEVariant = DEFAULT_VARIANT,
    ) -> None:
        super().__init__()
        self.w1 = nn.Parameter(w1.detach().clone(), requires_grad=False)
        self.b1 = nn.Parameter(b1.detach().clone(), requires_grad=False)
        self.w2 = nn.Parameter(w2.detach().clone(), requires_grad=False)
        self.b2 = nn.Parameter(b2.detach().clone(), requires_grad=False)
        self.variant = variant

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None, residual_relu: bool = True
    ) -> torch.Tensor:
        return torch.ops.se_deploy.squeeze_excitation(
            x,
            self.w1,
            self.b1,
            self.w2,
            self.b2,
            residual,
            *se_deploy.kernels.ops.op_arguments(self.variant),
            residual_relu,
        )

    def extra_repr(self) -> str:
        v = self.variant
        return f"channels={self.w1.shape[1]}, reduced={self.w1.shape[0]}, activation={v.activation}, gate={v.gate}"


class FusedResidualBlock(nn.Module):
    """A zoo ResNet block whose SE, residual add and ReLU run as one op."""

    def __init__(self, block: BasicBlock | Bottleneck, se: FusedSqueezeExcitation) -> None:
        super().__init__()
        self.block = block
        self.se = se

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        shortcut = x if b.downsample is None else b.downsample(x)
        out = b.relu(b.bn1(b.conv1(x)))
        if isinstance(b, Bottleneck):
            out = b.relu(b.bn2(b.conv2(out)))
            out = b.bn3(b.conv3(out))
        else:
            out = b.bn2(b.conv2(out))
        return self.se(out, shortcut, True)


@dataclass
class SwapReport:
    fused: list[str] = field(default_factory=list)
    residual_fused: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def fused_from_module(module: nn.Module) -> FusedSqueezeExcitation | None:
    """A fused equivalent of an SE-shaped module (weights copied), or None if it is not one."""
    fcs = _find_fcs(module)
    act = _first_attr(module, _ACT_NAMES, tuple(_ACTIVATIONS))
    gate = _first_attr(module, _GATE_NAMES, tuple(_GATES))
    if fcs is None or act is None or gate is None:
        return None
    (w1, b1), (w2, b2) = fcs
    activation = _ACTIVATIONS[type(act)]
    alpha = activation.module_alpha(act)
    if alpha is None:  # a module of this class that computes something else (tanh-approximated GELU)
        return None
    variant = SEVariant(activation=activation.name, activation_alpha=alpha, gate=_GATES[type(gate)].name)
    return FusedSqueezeExcitation(w1, b1, w2, b2, variant)


def _find_fcs(module: nn.Module) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    for first, second in _FC_NAMES:
        a, b = getattr(module, first, None), getattr(module, second, None)
        if isinstance(a, nn.Conv2d) and isinstance(b, nn.Conv2d) and _is_1x1(a) and _is_1x1(b):
            return _matrix(a), _matrix(b)
    sequence = getattr(module, "fc", None)
    if isinstance(sequence, nn.Sequential):
        linears = [m for m in sequence if isinstance(m, nn.Linear)]
        if len(linears) == 2:
            return _matrix(linears[0]), _matrix(linears[1])
    return None


def _is_1x1(conv: nn.Conv2d) -> bool:
    return conv.kernel_size == (1, 1) and conv.groups == 1 and conv.padding in ((0, 0), 0) and conv.dilation == (1, 1)


def _matrix(layer: nn.Conv2d | nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    weight = layer.weight.detach().reshape(layer.weight.shape[0], -1)
    bias = (
        layer.bias.detach()
        if layer.bias is not None
        else torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device)
    )
    return weight, bias


def _first_attr(module: nn.Module, names: tuple[str, ...], kinds: tuple[type[nn.Module], ...]) -> nn.Module | None:
    for name in names:
        candidate = getattr(module, name, None)
        if isinstance(candidate, kinds):
            return candidate
    sequence = getattr(module, "fc", None)
    if isinstance(sequence, nn.Sequential):
        for candidate in sequence:
            if isinstance(candidate, kinds):
                return candidate
    return None


def _agrees(original: nn.Module, fused: FusedSqueezeExcitation) -> bool:
    channels = fused.w1.shape[1]
    probe = torch.randn(2, channels, 5, 5, generator=torch.Generator().manual_seed(0)).to(fused.w1)
    with torch.no_grad():
        try:
            want = original(probe)
        except Exception:  # a module whose forward needs more than x is not a plain SE
            return False
        got = se_deploy.kernels.ops.reference(probe, fused.w1, fused.b1, fused.w2, fused.b2, None, fused.variant)
    return want.shape == got.shape and torch.allclose(want.float(), got.float(), atol=1e-4, rtol=1e-3)


def fuse_se_modules(model: nn.Module, *, residual: bool = True) -> SwapReport:
    """Swap in place; zoo ResNet blocks with SE become ``FusedResidualBlock`` when ``residual``."""
    report = SwapReport()
    for name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if residual and isinstance(child, BasicBlock | Bottleneck) and child.se is not None:
                fused = fused_from_module(child.se)
                if fused is not None and _agrees(child.se, fused):
                    child.se = None
                    setattr(parent, child_name, FusedResidualBlock(child, fused))
                    report.residual_fused.append(full)
                    continue
            fused = fused_from_module(child)
            if fused is None:
                continue
            if not _agrees(child, fused):
                report.skipped[full] = "looks like an SE module but computes something else on a probe input"
                continue
            setattr(parent, child_name, fused)
            report.fused.append(full)
    return report
