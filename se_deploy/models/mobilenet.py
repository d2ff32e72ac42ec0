"""MobileNet (v1, width 1.0) and SE-MobileNet: SE in each depthwise-separable block, as the SENet paper
describes, after the block's pointwise convolution. One block definition; SE is a switch."""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation

# (output channels, stride) of the 13 depthwise-separable blocks (Howard et al., Table 1).
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def _conv_bn_relu(in_ch: int, out_ch: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise, 1x1 pointwise (each with BN and ReLU), then an optional SE on the block's output."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, *, se_reduction: int | None = None) -> None:
        super().__init__()
        self.depthwise = _conv_bn_relu(in_ch, in_ch, 3, stride, groups=in_ch)
        self.pointwise = _conv_bn_relu(in_ch, out_ch, 1, 1)
        self.se = SqueezeExcitation(out_ch, se_reduction) if se_reduction else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pointwise(self.depthwise(x))
        return self.se(x) if self.se is not None else x


class MobileNet(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        width: int = 32,
        blocks: tuple[tuple[int, int], ...] = MOBILENET_V1_BLOCKS,
    ) -> None:
        super().__init__()
        scale = width / 32
        self.stem = _conv_bn_relu(3, width, 3, 2)
        layers = []
        in_ch = width
        for out_ch, stride in blocks:
            out_ch = max(8, int(out_ch * scale))
            layers.append(DepthwiseSeparable(in_ch, out_ch, stride, se_reduction=se_reduction))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        for module in self.modules():  # He (fan-in) init keeps the signal alive through 27 random layers
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(module, SqueezeExcitation):
                # Random gates near 0.5 would halve the signal 13 times over; start them near 0.88 instead.
                nn.init.constant_(module.fc2.bias, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(self.stem(x))), 1))


def build_mobilenet(
    *,
    se: bool,
    se_reduction: int = 16,
    num_classes: int = 1000,
    width: int = 32,
    blocks: tuple[tuple[int, int], ...] = MOBILENET_V1_BLOCKS,
) -> MobileNet:
    return MobileNet(num_classes=num_classes, se_reduction=se_reduction if se else None, width=width, blocks=blocks)
