"""Registers the zoo: every SE model with its non-SE twin."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from se_deploy.models.mobilenet import build_mobilenet
from se_deploy.models.paper import paper_figures
from se_deploy.models.registry import ModelSpec, Preprocessing, register
from se_deploy.models.resnet import build_resnet
from se_deploy.models.resnet_weights import resnet_checkpoint_filter
from se_deploy.models.vgg import build_vgg16_bn

_PLACEMENT_NOTES = {
    "caffe": "stride on the first 1x1 conv (paper/Caffe; Cadene & timm legacy_seresnet weights)",
    "torchvision": "stride on the 3x3 conv (torchvision resnet / timm seresnet weights)",
}
_RESNEXT_STEMS = {
    "caffe": "paper/Caffe stem (ceil-mode pool; Cadene & timm legacy_seresnext weights)",
    "torchvision": "torchvision stem (padded pool; torchvision resnext / timm seresnext weights)",
}
_SUFFIX = {"caffe": "", "torchvision": "_tv"}


def _register_pair(
    se_name: str,
    base_name: str,
    *,
    builder: Callable[[bool], Callable[..., nn.Module]],
    description: Callable[[bool], str],
    paper: str | None = None,
    **fields: Any,
) -> None:
    """Register an SE model and its twin: ``builder``/``description`` take ``has_se``; ``paper`` keys the
    paper's table (None where its figures do not describe these networks); ``fields`` are shared."""
    for name, twin, has_se in ((se_name, base_name, True), (base_name, se_name, False)):
        register(
            ModelSpec(
                name=name,
                twin=twin,
                has_se=has_se,
                builder=builder(has_se),
                description=description(has_se),
                paper=paper_figures(paper, se=has_se) if paper else None,
                **fields,
            )
        )


def _se(has_se: bool) -> str:
    return "SE-" if has_se else ""


def _register_resnet_pair(depth: int, placement: str) -> None:
    architecture = f"resnet{depth}"
    _register_pair(
        f"se_resnet{depth}{_SUFFIX[placement]}",
        f"resnet{depth}{_SUFFIX[placement]}",
        builder=lambda has_se: partial(build_resnet, depth, se=has_se, stride_placement=placement),
        description=lambda has_se: f"{_se(has_se)}ResNet-{depth}, {_PLACEMENT_NOTES[placement]}",
        paper=architecture if placement == "caffe" else None,  # the paper's figures are the Caffe placement's
        family="resnet",
        architecture=architecture,
        stride_placement=placement,
        checkpoint_filter=resnet_checkpoint_filter,
    )


def _register_tiny_pair(kind: str) -> None:
    """Small ResNets for tests: 32x32 inputs, 10 classes, one block per stage."""
    bottleneck = kind == "bottleneck"
    suffix = "" if bottleneck else "_basic"
    _register_pair(
        f"se_resnet_tiny{suffix}",
        f"resnet_tiny{suffix}",
        builder=lambda has_se: partial(
            build_resnet, 50 if bottleneck else 18, se=has_se, stride_placement="caffe", width=8, layers=(1, 1, 1, 1)
        ),
        description=lambda has_se: f"tiny {_se(has_se)}ResNet ({kind} blocks, width 8) for tests",
        family="resnet",
        architecture=f"resnet_tiny{suffix}",
        preprocessing=Preprocessing(resize_size=36, crop_size=32),
        num_classes=10,
        se_reduction=16 if bottleneck else 4,  # keep at least 2 hidden SE channels
        stride_placement="caffe",
        tiny=True,
        checkpoint_filter=resnet_checkpoint_filter,
    )


def _register_resnext_pair(depth: int, style: str) -> None:
    """SE-ResNeXt-{50,101} (32x4d): stride on the grouped 3x3 in both styles; the stem pool differs."""
    architecture = f"resnext{depth}_32x4d"
    stem = "ceil" if style == "caffe" else "pad"
    _register_pair(
        f"se_{architecture}{_SUFFIX[style]}",
        f"{architecture}{_SUFFIX[style]}",
        builder=lambda has_se: partial(
            build_resnet, depth, se=has_se, stride_placement="torchvision", stem_pool=stem, groups=32, base_width=4
        ),
        description=lambda has_se: (
            f"{_se(has_se)}ResNeXt-{depth} (32x4d), stride on the 3x3 conv, {_RESNEXT_STEMS[style]}"
        ),
        paper=architecture if style == "caffe" else None,
        family="resnext",
        architecture=architecture,
        stride_placement="torchvision",
        weights_layout=style,
        checkpoint_filter=resnet_checkpoint_filter,
    )


def _register_mobilenet_pair() -> None:
    _register_pair(
        "se_mobilenet",
        "mobilenet",
        builder=lambda has_se: partial(build_mobilenet, se=has_se),
        description=lambda has_se: (
            f"{_se(has_se)}MobileNet v1 1.0" + (", SE after each depthwise-separable block" if has_se else "")
        ),
        paper="mobilenet",
        family="mobilenet",
        architecture="mobilenet",
        classifier="fc",
    )


def _register_vgg_pair() -> None:
    _register_pair(
        "se_vgg16_bn",
        "vgg16_bn",
        builder=lambda has_se: partial(build_vgg16_bn, se=has_se),
        description=lambda has_se: (
            f"{_se(has_se)}VGG-16 with batch norm" + (", SE after each conv+BN+ReLU" if has_se else "")
        ),
        paper="vgg16_bn",
        family="vgg",
        architecture="vgg16_bn",
        classifier="classifier.6",
    )


for _depth in (18, 34, 50, 101, 152):
    _register_resnet_pair(_depth, "caffe")
for _depth in (18, 34, 50, 101, 152):
    _register_resnet_pair(_depth, "torchvision")
for _depth in (50, 101):
    _register_resnext_pair(_depth, "caffe")
for _depth in (50, 101):
    _register_resnext_pair(_depth, "torchvision")
_register_mobilenet_pair()
_register_vgg_pair()
_register_tiny_pair("bottleneck")
_register_tiny_pair("basic")
