"""Parameter and multiply-accumulate (MAC) counts, computed on the meta device (no memory, fast).

MACs follow the SENet paper's convention, so the figures compare with its Table 2: multiply-adds of
convolutions and fully connected layers, plus one operation per element for each SE block's squeeze
(global average) and scale (channel-wise multiply). Batch norm, activations, the stem's max-pool and
the head's average pool are not counted (the paper's ResNet-50 base figure, 3.86 G, excludes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation


@dataclass(frozen=True)
class Complexity:
    """Counts for one image at ``image_size`` x ``image_size``."""

    params: int
    macs: int
    image_size: int

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, image_size: int) -> int:
    """MACs of one forward pass of a single ``3 x image_size x image_size`` image."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    def se_hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal total
        total += 2 * inputs[0].numel()  # squeeze: one add per element; scale: one multiply per element

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, SqueezeExcitation):
            handles.append(module.register_forward_hook(se_hook))
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total


def measure(model: nn.Module, image_size: int) -> Complexity:
    return Complexity(count_parameters(model), count_macs(model, image_size), image_size)
