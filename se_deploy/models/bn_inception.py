"""BN-Inception (Ioffe & Szegedy, "Inception v2" with batch norm) and SE-BN-Inception.

The layout is the BN paper's Table 1 as the Caffe model (and Cadene's ``bninception`` port of it) builds
it: biased convs each followed by BN and ReLU, ceil-mode max-pools, two stride-2 modules (3c, 4e) that
pass the pooled input through, and a max-pooled projection in 5b. SE sits on each Inception module's
whole output, after the concatenation, as the SENet paper's Fig. 2 shows.

Module names mirror Cadene's flat names (``inception_3a_double_3x3_1`` is ``inception_3a.b_double_3x3_1``)
so ``bn_inception_weights.py`` maps them with one rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation


@dataclass(frozen=True)
class InceptionSpec:
    """Output widths of one module's branches; ``b1x1=0`` drops the 1x1 branch (the stride-2 modules)."""

    name: str
    b1x1: int
    b3x3_reduce: int
    b3x3: int
    double_reduce: int
    double: int
    pool: str  # "avg" or "max" (3x3, stride 1) with a projection, or "pass" (3x3 max, stride 2, no projection)
    pool_proj: int = 0

    @property
    def stride(self) -> int:
        return 2 if self.pool == "pass" else 1

    def out_channels(self, in_ch: int) -> int:
        return self.b1x1 + self.b3x3 + self.double + (in_ch if self.pool == "pass" else self.pool_proj)


BN_INCEPTION_MODULES: tuple[InceptionSpec, ...] = (
    InceptionSpec("3a", 64, 64, 64, 64, 96, "avg", 32),
    InceptionSpec("3b", 64, 64, 96, 64, 96, "avg", 64),
    InceptionSpec("3c", 0, 128, 160, 64, 96, "pass"),
    InceptionSpec("4a", 224, 64, 96, 96, 128, "avg", 128),
    InceptionSpec("4b", 192, 96, 128, 96, 128, "avg", 128),
    InceptionSpec("4c", 160, 128, 160, 128, 160, "avg", 128),
    InceptionSpec("4d", 96, 128, 192, 160, 192, "avg", 128),
    InceptionSpec("4e", 0, 128, 192, 192, 256, "pass"),
    InceptionSpec("5a", 352, 192, 320, 160, 224, "avg", 128),
    InceptionSpec("5b", 352, 192, 320, 192, 224, "max", 128),
)


def scaled_modules(
    divisor: int, modules: tuple[InceptionSpec, ...] = BN_INCEPTION_MODULES
) -> tuple[InceptionSpec, ...]:
    """Every branch ``divisor`` times narrower (at least 4 channels): the tiny test variant."""

    def narrow(channels: int) -> int:
        return max(4, channels // divisor) if channels else 0

    return tuple(
        InceptionSpec(
            m.name,
            narrow(m.b1x1),
            narrow(m.b3x3_reduce),
            narrow(m.b3x3),
            narrow(m.double_reduce),
            narrow(m.double),
            m.pool,
            narrow(m.pool_proj),
        )
        for m in modules
    )


class ConvBNReLU(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=True)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    def __init__(self, in_ch: int, spec: InceptionSpec, *, se_reduction: int | None = None) -> None:
        super().__init__()
        stride = spec.stride
        self.b_1x1 = ConvBNReLU(in_ch, spec.b1x1, 1) if spec.b1x1 else None
        self.b_3x3_reduce = ConvBNReLU(in_ch, spec.b3x3_reduce, 1)
        self.b_3x3 = ConvBNReLU(spec.b3x3_reduce, spec.b3x3, 3, stride)
        self.b_double_3x3_reduce = ConvBNReLU(in_ch, spec.double_reduce, 1)
        self.b_double_3x3_1 = ConvBNReLU(spec.double_reduce, spec.double, 3)
        self.b_double_3x3_2 = ConvBNReLU(spec.double, spec.double, 3, stride)
        if spec.pool == "avg":
            self.pool: nn.Module = nn.AvgPool2d(3, stride=1, padding=1, ceil_mode=True, count_include_pad=True)
        elif spec.pool == "max":
            self.pool = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        else:
            self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.b_pool_proj = ConvBNReLU(in_ch, spec.pool_proj, 1) if spec.pool_proj else None
        self.out_channels = spec.out_channels(in_ch)
        self.se = SqueezeExcitation(self.out_channels, se_reduction) if se_reduction else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [] if self.b_1x1 is None else [self.b_1x1(x)]
        branches.append(self.b_3x3(self.b_3x3_reduce(x)))
        branches.append(self.b_double_3x3_2(self.b_double_3x3_1(self.b_double_3x3_reduce(x))))
        pooled = self.pool(x)
        branches.append(pooled if self.b_pool_proj is None else self.b_pool_proj(pooled))
        out = torch.cat(branches, dim=1)
        return out if self.se is None else self.se(out)


class BNInception(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        modules: tuple[InceptionSpec, ...] = BN_INCEPTION_MODULES,
        stem: tuple[int, int, int] = (64, 64, 192),
    ) -> None:
        super().__init__()
        self.conv1_7x7_s2 = ConvBNReLU(3, stem[0], 7, 2)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2_3x3_reduce = ConvBNReLU(stem[0], stem[1], 1)
        self.conv2_3x3 = ConvBNReLU(stem[1], stem[2], 3)
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        in_ch = stem[2]
        for spec in modules:
            module = InceptionModule(in_ch, spec, se_reduction=se_reduction)
            self.add_module(f"inception_{spec.name}", module)
            in_ch = module.out_channels
        self.module_names = tuple(f"inception_{spec.name}" for spec in modules)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.conv1_7x7_s2(x))
        x = self.pool2(self.conv2_3x3(self.conv2_3x3_reduce(x)))
        for name in self.module_names:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_bn_inception(
    *,
    se: bool,
    se_reduction: int = 16,
    num_classes: int = 1000,
    modules: tuple[InceptionSpec, ...] = BN_INCEPTION_MODULES,
    stem: tuple[int, int, int] = (64, 64, 192),
) -> BNInception:
    return BNInception(num_classes=num_classes, se_reduction=se_reduction if se else None, modules=modules, stem=stem)
