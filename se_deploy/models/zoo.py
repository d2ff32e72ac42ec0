"""Registers the zoo: every SE model with its non-SE twin."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from se_deploy.models.bn_inception import build_bn_inception, scaled_modules
from se_deploy.models.inception_resnet_v2 import build_inception_resnet_v2
from se_deploy.models.inception_weights import bn_inception_checkpoint_filter, inception_resnet_v2_checkpoint_filter
from se_deploy.models.mobilenet import build_mobilenet
from se_deploy.models.paper import paper_figures
from se_deploy.models.registry import register
from se_deploy.models.resnet import build_resnet
from se_deploy.models.resnet_weights import resnet_checkpoint_filter
from se_deploy.models.senet import build_senet154
from se_deploy.models.shufflenet import build_shufflenet_g3
from se_deploy.models.spec import ModelSpec
from se_deploy.models.vgg import build_vgg16_bn
from se_deploy.preprocessing import IMAGENET_224, Preprocessing

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


def _register_senet154_pair() -> None:
    _register_pair(
        "senet154",
        "senet154_no_se",
        builder=lambda has_se: partial(build_senet154, se=has_se),
        description=lambda has_se: (
            "SENet-154 (3x3 stem, 64-group bottlenecks, 3x3 projections; Cadene / timm legacy_senet154 weights)"
            if has_se
            else "SENet-154's network without SE: the same stem, blocks and projections"
        ),
        family="senet",
        architecture="senet154",
        weights_layout="caffe",
        checkpoint_filter=resnet_checkpoint_filter,
        notes="the SENet paper gives no FLOPs or parameter count for SENet-154, so none is shown",
    )


# BN-Inception's only public weights (Cadene's port of the Caffe model) read BGR images in 0-255.
_CAFFE_BGR = Preprocessing(
    resize_size=256,
    crop_size=224,
    mean=(104.0, 117.0, 128.0),
    std=(1.0, 1.0, 1.0),
    color_space="BGR",
    pixel_range=(0.0, 255.0),
)


def _register_bn_inception_pair() -> None:
    _register_pair(
        "se_bn_inception",
        "bn_inception",
        builder=lambda has_se: partial(build_bn_inception, se=has_se),
        description=lambda has_se: (
            f"{_se(has_se)}BN-Inception" + (", SE on each Inception module's output" if has_se else "")
        ),
        paper="bn_inception",
        family="inception",
        architecture="bn_inception",
        preprocessing=_CAFFE_BGR,
        checkpoint_filter=bn_inception_checkpoint_filter,
    )


# timm's Inception-ResNet-v2 transform: 299 crop of a 333 resize, bicubic, inputs scaled to [-1, 1].
_INCEPTION_299 = Preprocessing(
    resize_size=333, crop_size=299, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic"
)
# Its valid (unpadded) stem and reductions need at least 75x75 pixels.
_IRV2_MIN_SIZE = 75


def _register_inception_resnet_v2_pair() -> None:
    _register_pair(
        "se_inception_resnet_v2",
        "inception_resnet_v2",
        builder=lambda has_se: partial(build_inception_resnet_v2, se=has_se),
        description=lambda has_se: (
            f"{_se(has_se)}Inception-ResNet-v2 (299x299, the released TF-slim network)"
            + (", SE on each residual branch" if has_se else "")
        ),
        paper="inception_resnet_v2",
        family="inception",
        architecture="inception_resnet_v2",
        preprocessing=_INCEPTION_299,
        min_image_size=_IRV2_MIN_SIZE,
        checkpoint_filter=inception_resnet_v2_checkpoint_filter,
    )


def _register_shufflenet_pair() -> None:
    _register_pair(
        "se_shufflenet_g3",
        "shufflenet_g3",
        builder=lambda has_se: partial(build_shufflenet_g3, se=has_se),
        description=lambda has_se: (
            f"{_se(has_se)}ShuffleNet v1 1x, g=3" + (", SE on each unit's residual branch" if has_se else "")
        ),
        paper="shufflenet_g3",
        family="shufflenet",
        architecture="shufflenet_g3",
    )


def _register_tiny_family_pairs() -> None:
    """Small members of every other family for tests: 10 classes, seconds to export."""
    tiny_32 = Preprocessing(resize_size=36, crop_size=32)
    common = {"num_classes": 10, "tiny": True}
    _register_pair(
        "se_resnext_tiny",
        "resnext_tiny",
        builder=lambda has_se: partial(
            build_resnet,
            50,
            se=has_se,
            stride_placement="torchvision",
            stem_pool="ceil",
            width=8,
            layers=(1, 1, 1, 1),
            groups=4,
            base_width=32,
        ),
        description=lambda has_se: f"tiny {_se(has_se)}ResNeXt (4 groups, width 8) for tests",
        family="resnext",
        architecture="resnext_tiny",
        preprocessing=tiny_32,
        stride_placement="torchvision",
        weights_layout="caffe",
        checkpoint_filter=resnet_checkpoint_filter,
        **common,
    )
    _register_pair(
        "senet_tiny",
        "senet_tiny_no_se",
        builder=lambda has_se: partial(build_senet154, se=has_se, width=8, groups=4, layers=(1, 1, 1, 1)),
        description=lambda has_se: f"tiny SENet-154-style network{'' if has_se else ' without SE'} for tests",
        family="senet",
        architecture="senet_tiny",
        preprocessing=tiny_32,
        weights_layout="caffe",
        checkpoint_filter=resnet_checkpoint_filter,
        **common,
    )
    _register_pair(
        "se_mobilenet_tiny",
        "mobilenet_tiny",
        builder=lambda has_se: partial(
            build_mobilenet, se=has_se, width=8, blocks=((16, 1), (32, 2), (32, 1), (64, 2))
        ),
        description=lambda has_se: f"tiny {_se(has_se)}MobileNet (width 8) for tests",
        family="mobilenet",
        architecture="mobilenet_tiny",
        preprocessing=tiny_32,
        se_reduction=4,
        **common,
    )
    _register_pair(
        "se_bn_inception_tiny",
        "bn_inception_tiny",
        builder=lambda has_se: partial(build_bn_inception, se=has_se, modules=scaled_modules(8), stem=(8, 8, 24)),
        description=lambda has_se: f"tiny {_se(has_se)}BN-Inception (1/8 width) for tests",
        family="inception",
        architecture="bn_inception_tiny",
        preprocessing=tiny_32,
        se_reduction=4,
        checkpoint_filter=bn_inception_checkpoint_filter,
        **common,
    )
    _register_pair(
        "se_inception_resnet_v2_tiny",
        "inception_resnet_v2_tiny",
        builder=lambda has_se: partial(build_inception_resnet_v2, se=has_se, width=0.125, repeats=(1, 1, 2)),
        description=lambda has_se: f"tiny {_se(has_se)}Inception-ResNet-v2 (1/8 width, 1/1/2 blocks) for tests",
        family="inception",
        architecture="inception_resnet_v2_tiny",
        preprocessing=IMAGENET_224.for_crop(_IRV2_MIN_SIZE),
        min_image_size=_IRV2_MIN_SIZE,
        se_reduction=4,
        checkpoint_filter=inception_resnet_v2_checkpoint_filter,
        **common,
    )
    _register_pair(
        "se_shufflenet_g3_tiny",
        "shufflenet_g3_tiny",
        builder=lambda has_se: partial(
            build_shufflenet_g3, se=has_se, channels=(24, 48, 96), repeats=(1, 2, 1), stem_channels=12
        ),
        description=lambda has_se: f"tiny {_se(has_se)}ShuffleNet (g=3, 24/48/96 channels) for tests",
        family="shufflenet",
        architecture="shufflenet_g3_tiny",
        preprocessing=tiny_32,
        se_reduction=4,
        **common,
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
_register_senet154_pair()
_register_bn_inception_pair()
_register_inception_resnet_v2_pair()
_register_shufflenet_pair()
_register_tiny_family_pairs()
_register_tiny_pair("bottleneck")
_register_tiny_pair("basic")
