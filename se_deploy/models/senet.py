"""SENet-154 (Hu et al., the ILSVRC 2017 winner) and the same network without SE.

Built as the authors' Caffe model and Cadene's / timm's ``legacy_senet154`` port define it: a stem of
three 3x3 convs (64, 64, 128) with a ceil-mode max-pool, 3/8/36/3 bottlenecks whose 1x1 reduces to
``2 * planes`` and whose grouped 3x3 (64 groups) widens to ``4 * planes`` with the stride, 3x3
downsampling shortcuts in stages 2-4, and dropout 0.2 before the classifier (identity at inference).

Module names follow the rest of the zoo (``conv1``..``conv3`` for the stem, ``layerN.M.se.fc1``,
``fc``); Cadene / timm-legacy keys (``layer0.conv2``, ``se_module``, ``last_linear``) are renamed in
``resnet_weights.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.resnet import Bottleneck, conv_bn, make_downsample
from se_deploy.models.se_block import SqueezeExcitation

SENET154_LAYERS: tuple[int, int, int, int] = (3, 8, 36, 3)


class SENetBottleneck(Bottleneck):
    """SENet-154's bottleneck: 1x1 to ``2p``, grouped 3x3 to ``4p`` (with the stride), 1x1 ``4p``; SE before the add.

    The forward pass is Bottleneck's, so the fused PyTorch runtime folds its SE and residual add the same way.
    """

    def __init__(
        self,
        in_ch: int,
        planes: int,
        stride: int = 1,
        *,
        se_reduction: int | None = None,
        groups: int = 64,
        downsample_kernel: int = 1,
    ) -> None:
        nn.Module.__init__(self)  # Bottleneck's own layers have other widths
        out_ch = planes * self.expansion
        self.conv1, self.bn1 = conv_bn(in_ch, planes * 2, 1)
        self.conv2, self.bn2 = conv_bn(planes * 2, out_ch, 3, stride, groups=groups)
        self.conv3, self.bn3 = conv_bn(out_ch, out_ch, 1)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(out_ch, se_reduction) if se_reduction else None
        self.downsample = make_downsample(in_ch, out_ch, stride, downsample_kernel)


class SENet154(nn.Module):
    """``se_reduction=None`` is the twin: the same network, block for block, without SE."""

    def __init__(
        self,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        layers: tuple[int, int, int, int] = SENET154_LAYERS,
        width: int = 64,
        groups: int = 64,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        stem_ch = width * 2
        self.conv1, self.bn1 = conv_bn(3, width, 3, 2)
        self.conv2, self.bn2 = conv_bn(width, width, 3)
        self.conv3, self.bn3 = conv_bn(width, stem_ch, 3)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # Caffe pooling, as the weights were trained
        in_ch = stem_ch
        stages = []
        for index, depth in enumerate(layers):
            planes = width * 2**index
            blocks = []
            for block_index in range(depth):
                first = block_index == 0
                blocks.append(
                    SENetBottleneck(
                        in_ch,
                        planes,
                        2 if first and index > 0 else 1,
                        se_reduction=se_reduction,
                        groups=groups,
                        # Stage 1's projection stays 1x1 (it only widens); the strided ones are 3x3.
                        downsample_kernel=3 if index > 0 else 1,
                    )
                )
                in_ch = planes * SENetBottleneck.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.maxpool(self.relu(self.bn3(self.conv3(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def build_senet154(
    *,
    se: bool,
    se_reduction: int = 16,
    num_classes: int = 1000,
    layers: tuple[int, int, int, int] = SENET154_LAYERS,
    width: int = 64,
    groups: int = 64,
) -> SENet154:
    return SENet154(
        num_classes=num_classes, se_reduction=se_reduction if se else None, layers=layers, width=width, groups=groups
    )
