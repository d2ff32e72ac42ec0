"""ShuffleNet v1 (Zhang et al.), 1x width with g=3 groups, and SE-ShuffleNet.

Each unit: grouped 1x1 (to a quarter of the output width) + BN + ReLU, channel shuffle, 3x3 depthwise
+ BN (carrying the stride), grouped 1x1 + BN; stride 1 adds the input, stride 2 concatenates a 3x3
average-pooled input, then ReLU. The very first 1x1 is not grouped (24 input channels are too few, as
the ShuffleNet paper notes). SE sits on the residual branch, before the add or concat: the SENet
paper's placement for residual networks, and the one that reproduces its 2.4M parameters (SE on the
unit's output would give 2.5M).
"""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation

# ShuffleNet paper, Table 1, g=3 at 1x: output channels of stages 2-4 and their unit counts.
SHUFFLENET_G3_CHANNELS: tuple[int, int, int] = (240, 480, 960)
SHUFFLENET_REPEATS: tuple[int, int, int] = (4, 8, 4)
STEM_CHANNELS = 24


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (reshape, transpose, reshape)."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.reshape(batch, channels, height, width)


class ShuffleUnit(nn.Module):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        *,
        groups: int,
        first_grouped: bool = True,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.groups = groups
        branch_ch = out_ch - in_ch if stride == 2 else out_ch  # stride 2 concatenates the pooled input
        mid_ch = out_ch // 4
        first_groups = groups if first_grouped else 1
        self.conv1 = nn.Conv2d(in_ch, mid_ch, 1, groups=first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_ch)
        self.conv2 = nn.Conv2d(mid_ch, mid_ch, 3, stride=stride, padding=1, groups=mid_ch, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_ch)
        self.conv3 = nn.Conv2d(mid_ch, branch_ch, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(branch_ch)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(branch_ch, se_reduction) if se_reduction else None
        self.pool = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = channel_shuffle(out, self.groups)  # also after the ungrouped first 1x1, as Megvii's reference does
        out = self.bn3(self.conv3(self.bn2(self.conv2(out))))
        if self.se is not None:
            out = self.se(out)
        if self.pool is not None:
            return self.relu(torch.cat((self.pool(x), out), dim=1))
        return self.relu(out + x)


class ShuffleNetV1(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        groups: int = 3,
        channels: tuple[int, ...] = SHUFFLENET_G3_CHANNELS,
        repeats: tuple[int, ...] = SHUFFLENET_REPEATS,
        stem_channels: int = STEM_CHANNELS,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem_channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = stem_channels
        stages = []
        for index, (out_ch, count) in enumerate(zip(channels, repeats, strict=True)):
            units = []
            for unit_index in range(count):
                units.append(
                    ShuffleUnit(
                        in_ch,
                        out_ch,
                        2 if unit_index == 0 else 1,
                        groups=groups,
                        first_grouped=not (index == 0 and unit_index == 0),
                        se_reduction=se_reduction,
                    )
                )
                in_ch = out_ch
            stages.append(nn.Sequential(*units))
        self.stage2, self.stage3, self.stage4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # Random weights must stay O(1): BN is the identity at init, and with plain He init the activations
        # reach 1e4 by the classifier and a random SE-ShuffleNet differs between float32 and float64 by 0.15%,
        # too ill-conditioned for an export to verify. Trained weights replace all of this.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        for module in self.modules():  # after the convs: a unit's children come after it in modules()
            if isinstance(module, ShuffleUnit):
                nn.init.kaiming_normal_(module.conv2.weight, mode="fan_in", nonlinearity="linear")  # no ReLU follows
                nn.init.kaiming_normal_(module.conv3.weight, mode="fan_in", nonlinearity="linear")
                nn.init.constant_(module.bn3.weight, 0.5)  # the residual branch adds half the input's scale
            elif isinstance(module, SqueezeExcitation):
                nn.init.constant_(module.fc2.bias, 2.0)  # gates near 0.88, not 0.5 compounded 16 times

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_shufflenet_g3(
    *,
    se: bool,
    se_reduction: int = 16,
    num_classes: int = 1000,
    channels: tuple[int, ...] = SHUFFLENET_G3_CHANNELS,
    repeats: tuple[int, ...] = SHUFFLENET_REPEATS,
    stem_channels: int = STEM_CHANNELS,
) -> ShuffleNetV1:
    return ShuffleNetV1(
        num_classes=num_classes,
        se_reduction=se_reduction if se else None,
        channels=channels,
        repeats=repeats,
        stem_channels=stem_channels,
    )
