"""VGG-16 with batch norm and SE-VGG-16: SE after each conv + BN + ReLU, as the SENet paper describes
for VGG. One block definition; SE is a switch."""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.se_block import SqueezeExcitation

VGG16: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class ConvBNReLU(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, *, se_reduction: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(out_ch, se_reduction) if se_reduction else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        return self.se(x) if self.se is not None else x


class VGG(nn.Module):
    def __init__(
        self,
        config: tuple[int | str, ...] = VGG16,
        *,
        num_classes: int = 1000,
        se_reduction: int | None = None,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(ConvBNReLU(in_ch, int(item), se_reduction=se_reduction))
                in_ch = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(in_ch * 49, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, SqueezeExcitation):
                # Random gates near 0.5 would halve the signal 13 times over; start them near 0.88 instead.
                nn.init.constant_(module.fc2.bias, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def build_vgg16_bn(*, se: bool, se_reduction: int = 16, num_classes: int = 1000) -> VGG:
    return VGG(num_classes=num_classes, se_reduction=se_reduction if se else None)
