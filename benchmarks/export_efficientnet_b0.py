"""Export an EfficientNet-B0-shaped SE network (not in the zoo) to ONNX, for SE-native measurements.

EfficientNet / MobileNetV3 put SE between the depthwise conv and the projecting 1x1 conv, the placement
se-deploy's own zoo lacks; this network lets ``benchmarks/native_fold.py`` measure folding the gate into
that 1x1 conv (``native/consumer_fold.py``). Layout from Tan & Le (2019), Table 1: MBConv blocks with SiLU,
SE squeezing to a quarter of the block's input channels. Random weights, BatchNorm statistics fitted like
se-deploy's own random exports; exported with torch's default (dynamo) exporter, BN folded.

    python benchmarks/export_efficientnet_b0.py /tmp/effnet_b0.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from se_deploy.export.random_weights import fit_batch_norm_statistics

# (expansion, kernel, stride, output channels, repeats)
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.expand = _conv_bn(cin, mid, 1) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        squeezed = max(1, cin // 4)
        self.se_reduce, self.se_expand = nn.Conv2d(mid, squeezed, 1), nn.Conv2d(squeezed, mid, 1)
        self.project = _conv_bn(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(self.expand(x))
        gate = torch.sigmoid(self.se_expand(nn.functional.silu(self.se_reduce(h.mean((2, 3), keepdim=True)))))
        y = self.project(h * gate)
        return x + y if self.residual else y


class EfficientNetB0(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        blocks: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        cin = 32
        for expansion, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expansion, kernel, stride if i == 0 else 1))
                cin = cout
        blocks.append(_conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = EfficientNetB0()
    fit_batch_norm_statistics(model, args.image_size, seed=0)
    example = torch.randn(1, 3, args.image_size, args.image_size)
    batch = torch.export.Dim("batch", min=1, max=64)
    torch.onnx.export(model, (example,), str(args.out), input_names=["input"], output_names=["logits"],
                      dynamic_shapes={"x": {0: batch}}, dynamo=True)  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
