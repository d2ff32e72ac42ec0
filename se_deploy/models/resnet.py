"""ResNet and SE-ResNet (He et al.; Hu et al.) from one block definition where SE is a switch.

Module names follow torchvision/timm (``conv1``, ``layer1.0.conv1``, ``layer1.0.se.fc1``, ``fc``) so
their checkpoints load without renaming; Cadene/timm-legacy checkpoints are renamed in
``checkpoint.py``.

Two stride placements exist in the wild for bottleneck blocks that downsample:

* ``"caffe"`` - stride on the first 1x1 conv, max-pool with ``ceil_mode`` and no padding. This is the
  original ResNet and what the SENet authors trained (their Caffe models, Cadene's
  ``pretrainedmodels``, timm ``legacy_seresnet*``); it gives the paper's 3.86 / 3.87 GMACs.
* ``"torchvision"`` - stride on the 3x3 conv ("ResNet v1.5"), max-pool with padding 1. Used by
  torchvision ``resnet*`` and timm ``seresnet*`` weights; ~4.1 GMACs for ResNet-50.

Both have identical parameter shapes; only the computation differs, so weights must be loaded into
the placement they were trained with.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation

StridePlacement = Literal["caffe", "torchvision"]
STRIDE_PLACEMENTS: tuple[str, ...] = ("caffe", "torchvision")


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    """An unbiased "same"-padded conv and its batch norm (ResNet-family blocks and stems)."""
    conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
    return conv, nn.BatchNorm2d(out_ch)


class BasicBlock(nn.Module):
    """Two 3x3 convs; optional SE on the residual branch, before the addition."""

    expansion = 1

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        *,
        se_reduction: int | None = None,
        stride_placement: StridePlacement = "caffe",
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        del stride_placement  # both placements put the stride on the first 3x3 conv
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64")
        out_ch = planes * self.expansion
        self.conv1, self.bn1 = conv_bn(in_ch, planes, 3, stride)
        self.conv2, self.bn2 = conv_bn(planes, out_ch, 3)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(out_ch, se_reduction) if se_reduction else None
        self.downsample = make_downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand; optional SE on the residual branch, before the addition."""

    expansion = 4

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        *,
        se_reduction: int | None = None,
        stride_placement: StridePlacement = "caffe",
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        width = int(planes * base_width / 64) * groups  # ResNeXt's "32x4d": 32 groups of 4 channels at planes=64
        stride_1x1, stride_3x3 = (stride, 1) if stride_placement == "caffe" else (1, stride)
        self.conv1, self.bn1 = conv_bn(in_ch, width, 1, stride_1x1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride_3x3, groups=groups)
        self.conv3, self.bn3 = conv_bn(width, out_ch, 1)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(out_ch, se_reduction) if se_reduction else None
        self.downsample = make_downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + shortcut)


def make_downsample(in_ch: int, out_ch: int, stride: int, kernel: int = 1) -> nn.Sequential | None:
    """The projection shortcut (conv + BN), or None where the identity fits; SENet-154 uses 3x3 ones."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(*conv_bn(in_ch, out_ch, kernel, stride))


class ResNet(nn.Module):
    """ResNet with an ImageNet stem; ``se_reduction=None`` is the plain network."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        *,
        width: int = 64,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        stride_placement: StridePlacement = "caffe",
        stem_pool: str | None = None,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if stride_placement not in STRIDE_PLACEMENTS:
            raise ValueError(f"stride_placement must be one of {STRIDE_PLACEMENTS}, got {stride_placement!r}")
        self.stride_placement = stride_placement
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        # Caffe-trained weights (Cadene, timm legacy_*) pool with ceil_mode and no padding, whatever the stride
        # placement (SE-ResNeXt puts its stride on the 3x3 but keeps this stem); torchvision/timm pad by 1.
        stem_pool = stem_pool or ("ceil" if stride_placement == "caffe" else "pad")
        if stem_pool not in ("ceil", "pad"):
            raise ValueError(f"stem_pool must be 'ceil' or 'pad', got {stem_pool!r}")
        self.stem_pool = stem_pool
        if stem_pool == "ceil":
            self.maxpool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        else:
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = width
        stages = []
        for index, depth in enumerate(layers):
            planes = width * 2**index
            stride = 1 if index == 0 else 2
            blocks = []
            for block_index in range(depth):
                blocks.append(
                    block(
                        in_ch,
                        planes,
                        stride if block_index == 0 else 1,
                        se_reduction=se_reduction,
                        stride_placement=stride_placement,
                        groups=groups,
                        base_width=base_width,
                    )
                )
                in_ch = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


RESNET_DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def build_resnet(
    depth: int,
    *,
    se: bool,
    se_reduction: int = 16,
    stride_placement: StridePlacement = "caffe",
    num_classes: int = 1000,
    width: int = 64,
    layers: tuple[int, int, int, int] | None = None,
    stem_pool: str | None = None,
    groups: int = 1,
    base_width: int = 64,
) -> ResNet:
    """Build ResNet-``depth`` (18/34/50/101/152), with SE blocks when ``se`` is true.

    ``layers`` overrides the block counts (used by the tiny test variants).
    """
    if depth not in RESNET_DEPTHS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_DEPTHS)}, got {depth}")
    block, default_layers = RESNET_DEPTHS[depth]
    return ResNet(
        block,
        layers or default_layers,
        width=width,
        num_classes=num_classes,
        se_reduction=se_reduction if se else None,
        stride_placement=stride_placement,
        stem_pool=stem_pool,
        groups=groups,
        base_width=base_width,
    )
