"""Small networks written the way timm and torchvision write their SE models, for matcher tests.

Each ``build_*`` returns a network (eval mode, random weights) whose SE modules are instances of
``SE_TYPES``; ``count_se`` counts them, the number ``inspect`` must report after export.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from se_deploy.models import create_model
from se_deploy.models.se_block import SqueezeExcitation as ZooSE


class TimmSE(nn.Module):
    """timm ``SEModule``/``SqueezeExcite``: mean(keepdim) -> conv_reduce -> act -> conv_expand -> gate."""

    def __init__(self, channels: int, reduced: int, act: type[nn.Module] = nn.ReLU, gate: str = "sigmoid") -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.act = act()
        self.conv_expand = nn.Conv2d(reduced, channels, 1)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_se = self.conv_expand(self.act(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        if self.gate == "sigmoid":
            return x * x_se.sigmoid()
        if self.gate == "hard_sigmoid_module":
            return x * F.hardsigmoid(x_se)
        return x * (F.relu6(x_se + 3.0) / 6.0)  # timm's hard_sigmoid written out


class TorchvisionSE(nn.Module):
    """torchvision.ops.SqueezeExcitation: adaptive pool -> fc1 -> act -> fc2 -> scale act; ``scale * input``."""

    def __init__(self, channels: int, reduced: int, act: type[nn.Module] = nn.ReLU, gate: type[nn.Module] = nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.activation = act()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x


class LinearSE(nn.Module):
    """senet.pytorch style: Linear FCs without bias, view back, expand_as."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, reduced, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(reduced, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.size()
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * y.expand_as(x)


SE_TYPES = (ZooSE, TimmSE, TorchvisionSE, LinearSE)


def count_se(model: nn.Module) -> int:
    return sum(isinstance(m, SE_TYPES) for m in model.modules())


def _conv_bn_act(
    cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act()
    )


class _Classifier(nn.Module):
    """Stem, blocks, GAP -> flatten -> Linear head (the head must not be taken for an SE)."""

    def __init__(self, stem_out: int, blocks: nn.Sequential, features: int, act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.stem = _conv_bn_act(3, stem_out, 3, 2, act=act)
        self.blocks = blocks
        self.head = nn.Linear(features, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


class ResNeXtBlock(nn.Module):
    """timm SE-ResNeXt bottleneck: grouped 3x3, SE before the residual addition."""

    def __init__(self, cin: int, width: int, cout: int, groups: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn_act(cin, width)
        self.conv2 = _conv_bn_act(width, width, 3, stride, groups)
        self.conv3 = nn.Sequential(nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.se = TimmSE(cout, cout // 8)
        self.downsample = (
            None
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(self.se(self.conv3(self.conv2(self.conv1(x)))) + shortcut)


class MBConv(nn.Module):
    """EfficientNet/MobileNetV3 inverted residual: expand, depthwise, SE, project (+ residual)."""

    def __init__(
        self, cin: int, cout: int, expand: int, stride: int, act: type[nn.Module], se: nn.Module | None
    ) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = _conv_bn_act(cin, mid, act=act) if expand != 1 else nn.Identity()
        self.dw = _conv_bn_act(mid, mid, 3, stride, groups=mid, act=act)
        self.se = se if se is not None else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.dw(self.expand(x))))
        return out + x if self.residual else out


class RegNetYBlock(nn.Module):
    """torchvision RegNetY bottleneck: 1x1, grouped 3x3, SE (ratio 0.25 of the block input), 1x1, residual."""

    def __init__(self, cin: int, cout: int, group_width: int, stride: int) -> None:
        super().__init__()
        self.a = _conv_bn_act(cin, cout)
        self.b = _conv_bn_act(cout, cout, 3, stride, groups=cout // group_width)
        self.se = TorchvisionSE(cout, max(1, round(0.25 * cin)))
        self.c = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.proj = (
            None
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return F.relu(shortcut + self.c(self.se(self.b(self.a(x)))))


def build_se_resnet() -> nn.Module:
    return create_model("se_resnet_tiny")


def build_se_resnext() -> nn.Module:
    blocks = nn.Sequential(
        ResNeXtBlock(16, 16, 32, 4, 1), ResNeXtBlock(32, 16, 32, 4, 1), ResNeXtBlock(32, 32, 64, 4, 2)
    )
    return _Classifier(16, blocks, 64)


def build_efficientnet_b0() -> nn.Module:
    """timm-style SE (SiLU, rd = 0.25 * block input) in the first blocks, torchvision-style in the last."""
    blocks = nn.Sequential(
        MBConv(16, 16, 1, 1, nn.SiLU, TimmSE(16, 4, nn.SiLU)),
        MBConv(16, 24, 6, 2, nn.SiLU, TimmSE(96, 4, nn.SiLU)),
        MBConv(24, 24, 6, 1, nn.SiLU, TorchvisionSE(144, 6, nn.SiLU)),
    )
    return _Classifier(16, blocks, 24, act=nn.SiLU)


def build_mobilenetv3() -> nn.Module:
    """Hardswish blocks; SE with ReLU and a hard-sigmoid gate, in some blocks only (as in MobileNetV3)."""
    blocks = nn.Sequential(
        MBConv(16, 16, 1, 2, nn.ReLU, TorchvisionSE(16, 8, nn.ReLU, nn.Hardsigmoid)),
        MBConv(16, 24, 4, 2, nn.ReLU, None),
        MBConv(24, 24, 3, 1, nn.Hardswish, TimmSE(72, 24, nn.ReLU, gate="hard_sigmoid_written")),
        MBConv(24, 24, 3, 1, nn.Hardswish, TimmSE(72, 24, nn.ReLU, gate="hard_sigmoid_module")),
    )
    return _Classifier(16, blocks, 24, act=nn.Hardswish)


def build_regnety() -> nn.Module:
    blocks = nn.Sequential(RegNetYBlock(16, 24, 8, 2), RegNetYBlock(24, 24, 8, 1), RegNetYBlock(24, 56, 8, 2))
    return _Classifier(16, blocks, 56)


def build_linear_se() -> nn.Module:
    blocks = nn.Sequential(_conv_bn_act(16, 32, 3), LinearSE(32, 8), _conv_bn_act(32, 32, 3), LinearSE(32, 4))
    return _Classifier(16, blocks, 32)


STYLES: dict[str, Callable[[], nn.Module]] = {
    "se_resnet": build_se_resnet,
    "se_resnext": build_se_resnext,
    "efficientnet_b0": build_efficientnet_b0,
    "mobilenetv3": build_mobilenetv3,
    "regnety": build_regnety,
    "linear_se": build_linear_se,
}


def export(model: nn.Module, exporter: str, *, size: int = 32, half: bool = False, batch: int = 2) -> onnx.ModelProto:
    """Export with dynamic batch through torch.onnx, in memory."""
    model = model.eval()
    example = torch.randn(batch, 3, size, size)
    if half:
        model, example = model.half(), example.half()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(
                model,
                (example,),
                input_names=["input"],
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                dynamo=True,
            )
            return program.model_proto
        buffer = io.BytesIO()
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "b"}, "output": {0: "b"}},
            dynamo=False,
            opset_version=17,
        )
        return onnx.load_from_string(buffer.getvalue())
