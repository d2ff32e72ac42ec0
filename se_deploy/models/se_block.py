"""The Squeeze-and-Excitation block (Hu et al.), shared by every SE model of the zoo."""

from __future__ import annotations

import torch
from torch import nn


def reduced_channels(channels: int, reduction: int) -> int:
    """Channels of the SE bottleneck: ``channels // reduction``, at least 1."""
    if reduction < 1:
        raise ValueError(f"SE reduction ratio must be >= 1, got {reduction}")
    return max(1, channels // reduction)


class SqueezeExcitation(nn.Module):
    """Squeeze (global average), excite (two 1x1 convs: ReLU then sigmoid), scale the input.

    The FCs are 1x1 convolutions with bias, as in the authors' Caffe models, Cadene's
    pretrainedmodels and timm, so public checkpoints map onto ``fc1``/``fc2`` directly.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = reduced_channels(channels, reduction)
        self.channels = channels
        self.hidden = hidden
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        scale = self.gate(self.fc2(self.act(self.fc1(scale))))
        return x * scale
