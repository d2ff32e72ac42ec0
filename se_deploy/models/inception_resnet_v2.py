"""Inception-ResNet-v2 (Szegedy et al.) at 299x299 and SE-Inception-ResNet-v2.

Built as Google's released TF-slim model (the one with public weights, ported by Cadene and timm):
stem to 192 channels, Mixed_5b to 320, 10 Block35 (scale 0.17), Mixed_6a to 1088, 20 Block17 (0.10),
Mixed_7a to 2080, 10 Block8 (0.20; the last without ReLU), a 1x1 to 1536, average pool, classifier.
BN eps is 1e-3 and convs are unbiased, except each block's 1x1 up-projection, as in those weights.

SE sits on each residual block's branch, after the up-projection and before the residual scaling and
addition: the SENet paper's SE-ResNet placement applied to Inception-ResNet. Module names are timm's
(``conv2d_1a.conv``, ``repeat.0.branch1.1.bn``, ``mixed_6a``); the classifier is ``fc`` (timm:
``classif``, Cadene: ``last_linear``; renamed on load).

``width`` scales every conv (the tiny test variant); widths of concatenations are derived, not typed.
"""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation

# Residual blocks per stage (the last Block8 has no ReLU), as in the released model.
IRV2_REPEATS: tuple[int, int, int] = (10, 20, 10)


class BasicConv2d(nn.Module):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-3)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class _Scaled:
    """Channel widths of the released model times ``width``, never below 4."""

    def __init__(self, width: float) -> None:
        self.width = width

    def __call__(self, channels: int) -> int:
        return max(4, round(channels * self.width))


class Mixed5b(nn.Module):
    def __init__(self, in_ch: int, c: _Scaled) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(in_ch, c(96), 1)
        self.branch1 = nn.Sequential(BasicConv2d(in_ch, c(48), 1), BasicConv2d(c(48), c(64), 5, padding=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(in_ch, c(64), 1),
            BasicConv2d(c(64), c(96), 3, padding=1),
            BasicConv2d(c(96), c(96), 3, padding=1),
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), BasicConv2d(in_ch, c(64), 1)
        )
        self.out_channels = c(96) + c(64) + c(96) + c(64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Mixed6a(nn.Module):
    def __init__(self, in_ch: int, c: _Scaled) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(in_ch, c(384), 3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(in_ch, c(256), 1),
            BasicConv2d(c(256), c(256), 3, padding=1),
            BasicConv2d(c(256), c(384), 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c(384) + c(384) + in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class Mixed7a(nn.Module):
    def __init__(self, in_ch: int, c: _Scaled) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(in_ch, c(256), 1), BasicConv2d(c(256), c(384), 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(in_ch, c(256), 1), BasicConv2d(c(256), c(288), 3, stride=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(in_ch, c(256), 1),
            BasicConv2d(c(256), c(288), 3, padding=1),
            BasicConv2d(c(288), c(320), 3, stride=2),
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c(384) + c(288) + c(320) + in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class ResidualInceptionBlock(nn.Module):
    """Branches concatenated, 1x1 up-projection (biased), optional SE, ``x + scale * branch``, optional ReLU."""

    def __init__(self, channels: int, branch_width: int, scale: float, *, relu: bool, se_reduction: int | None) -> None:
        super().__init__()
        self.scale = scale
        self.conv2d = nn.Conv2d(branch_width, channels, 1)
        self.se = SqueezeExcitation(channels, se_reduction) if se_reduction else None
        self.relu = nn.ReLU(inplace=True) if relu else None

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat(self.branches(x), 1))
        if self.se is not None:
            out = self.se(out)
        out = out * self.scale + x
        return out if self.relu is None else self.relu(out)


class Block35(ResidualInceptionBlock):
    def __init__(self, channels: int, c: _Scaled, *, se_reduction: int | None) -> None:
        super().__init__(channels, c(32) + c(32) + c(64), 0.17, relu=True, se_reduction=se_reduction)
        self.branch0 = BasicConv2d(channels, c(32), 1)
        self.branch1 = nn.Sequential(BasicConv2d(channels, c(32), 1), BasicConv2d(c(32), c(32), 3, padding=1))
        self.branch2 = nn.Sequential(
            BasicConv2d(channels, c(32), 1),
            BasicConv2d(c(32), c(48), 3, padding=1),
            BasicConv2d(c(48), c(64), 3, padding=1),
        )

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x), self.branch2(x)]


class Block17(ResidualInceptionBlock):
    def __init__(self, channels: int, c: _Scaled, *, se_reduction: int | None) -> None:
        super().__init__(channels, c(192) + c(192), 0.10, relu=True, se_reduction=se_reduction)
        self.branch0 = BasicConv2d(channels, c(192), 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(channels, c(128), 1),
            BasicConv2d(c(128), c(160), (1, 7), padding=(0, 3)),
            BasicConv2d(c(160), c(192), (7, 1), padding=(3, 0)),
        )

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x)]


class Block8(ResidualInceptionBlock):
    def __init__(
        self, channels: int, c: _Scaled, *, se_reduction: int | None, scale: float = 0.20, relu: bool = True
    ) -> None:
        super().__init__(channels, c(192) + c(256), scale, relu=relu, se_reduction=se_reduction)
        self.branch0 = BasicConv2d(channels, c(192), 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(channels, c(192), 1),
            BasicConv2d(c(192), c(224), (1, 3), padding=(0, 1)),
            BasicConv2d(c(224), c(256), (3, 1), padding=(1, 0)),
        )

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.branch0(x), self.branch1(x)]


class InceptionResNetV2(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        repeats: tuple[int, int, int] = IRV2_REPEATS,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        c = _Scaled(width)
        self.conv2d_1a = BasicConv2d(3, c(32), 3, stride=2)
        self.conv2d_2a = BasicConv2d(c(32), c(32), 3)
        self.conv2d_2b = BasicConv2d(c(32), c(64), 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(c(64), c(80), 1)
        self.conv2d_4a = BasicConv2d(c(80), c(192), 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed5b(c(192), c)
        ch = self.mixed_5b.out_channels
        self.repeat = nn.Sequential(*(Block35(ch, c, se_reduction=se_reduction) for _ in range(repeats[0])))
        self.mixed_6a = Mixed6a(ch, c)
        ch = self.mixed_6a.out_channels
        self.repeat_1 = nn.Sequential(*(Block17(ch, c, se_reduction=se_reduction) for _ in range(repeats[1])))
        self.mixed_7a = Mixed7a(ch, c)
        ch = self.mixed_7a.out_channels
        self.repeat_2 = nn.Sequential(*(Block8(ch, c, se_reduction=se_reduction) for _ in range(repeats[2] - 1)))
        self.block8 = Block8(ch, c, se_reduction=se_reduction, scale=1.0, relu=False)
        self.conv2d_7b = BasicConv2d(ch, c(1536), 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c(1536), num_classes)
        self.num_features = c(1536)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool_3a(self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x))))
        x = self.maxpool_5a(self.conv2d_4a(self.conv2d_3b(x)))
        x = self.repeat(self.mixed_5b(x))
        x = self.repeat_1(self.mixed_6a(x))
        x = self.block8(self.repeat_2(self.mixed_7a(x)))
        return self.fc(torch.flatten(self.avgpool(self.conv2d_7b(x)), 1))


def build_inception_resnet_v2(
    *,
    se: bool,
    se_reduction: int = 16,
    num_classes: int = 1000,
    repeats: tuple[int, int, int] = IRV2_REPEATS,
    width: float = 1.0,
) -> InceptionResNetV2:
    return InceptionResNetV2(
        num_classes=num_classes, se_reduction=se_reduction if se else None, repeats=repeats, width=width
    )
