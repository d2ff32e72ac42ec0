"""Registers the zoo: every SE model with its non-SE twin."""

from __future__ import annotations

from functools import partial

from se_deploy.models.mobilenet import build_mobilenet
from se_deploy.models.paper import paper_figures
from se_deploy.models.registry import ModelSpec, Preprocessing, register
from se_deploy.models.resnet import BasicBlock, Bottleneck, build_resnet
from se_deploy.models.resnet_weights import resnet_checkpoint_filter
from se_deploy.models.vgg import build_vgg16_bn

_PLACEMENT_NOTES = {
    "caffe": "stride on the first 1x1 conv (paper/Caffe; Cadene & timm legacy_seresnet weights)",
    "torchvision": "stride on the 3x3 conv (torchvision resnet / timm seresnet weights)",
}
_SUFFIX = {"caffe": "", "torchvision": "_tv"}


def _register_resnet_pair(depth: int, placement: str) -> None:
    suffix = _SUFFIX[placement]
    se_name, base_name = f"se_resnet{depth}{suffix}", f"resnet{depth}{suffix}"
    architecture = f"resnet{depth}"
    # The paper's figures describe the Caffe placement only.
    with_paper = placement == "caffe"
    for name, twin, has_se in ((se_name, base_name, True), (base_name, se_name, False)):
        title = f"{'SE-' if has_se else ''}ResNet-{depth}"
        register(
            ModelSpec(
                name=name,
                family="resnet",
                architecture=architecture,
                has_se=has_se,
                twin=twin,
                builder=partial(build_resnet, depth, se=has_se, stride_placement=placement),
                description=f"{title}, {_PLACEMENT_NOTES[placement]}",
                stride_placement=placement,
                paper=paper_figures(architecture, se=has_se) if with_paper else None,
                checkpoint_filter=resnet_checkpoint_filter,
            )
        )


def _register_tiny_pair(kind: str) -> None:
    """Small ResNets for tests: 32x32 inputs, 10 classes, one block per stage."""
    block = Bottleneck if kind == "bottleneck" else BasicBlock
    depth = 50 if block is Bottleneck else 18
    suffix = "" if kind == "bottleneck" else "_basic"
    se_name, base_name = f"se_resnet_tiny{suffix}", f"resnet_tiny{suffix}"
    reduction = 16 if block is Bottleneck else 4  # keep at least 2 hidden SE channels
    for name, twin, has_se in ((se_name, base_name, True), (base_name, se_name, False)):
        register(
            ModelSpec(
                name=name,
                family="resnet",
                architecture=f"resnet_tiny{suffix}",
                has_se=has_se,
                twin=twin,
                builder=partial(build_resnet, depth, se=has_se, stride_placement="caffe", width=8, layers=(1, 1, 1, 1)),
                description=f"tiny {'SE-' if has_se else ''}ResNet ({kind} blocks, width 8) for tests",
                preprocessing=Preprocessing(resize_size=36, crop_size=32),
                num_classes=10,
                se_reduction=reduction,
                stride_placement="caffe",
                tiny=True,
                checkpoint_filter=resnet_checkpoint_filter,
            )
        )


def _register_resnext_pair(depth: int, style: str) -> None:
    """SE-ResNeXt-{50,101} (32x4d): stride on the grouped 3x3 in both styles; the stem pool differs."""
    suffix = "" if style == "caffe" else "_tv"
    architecture = f"resnext{depth}_32x4d"
    se_name, base_name = f"se_{architecture}{suffix}", f"{architecture}{suffix}"
    stem = "ceil" if style == "caffe" else "pad"
    origin = (
        "paper/Caffe stem (ceil-mode pool; Cadene & timm legacy_seresnext weights)"
        if style == "caffe"
        else "torchvision stem (padded pool; torchvision resnext / timm seresnext weights)"
    )
    for name, twin, has_se in ((se_name, base_name, True), (base_name, se_name, False)):
        title = f"{'SE-' if has_se else ''}ResNeXt-{depth} (32x4d)"
        register(
            ModelSpec(
                name=name,
                family="resnext",
                architecture=architecture,
                has_se=has_se,
                twin=twin,
                builder=partial(
                    build_resnet,
                    depth,
                    se=has_se,
                    stride_placement="torchvision",
                    stem_pool=stem,
                    groups=32,
                    base_width=4,
                ),
                description=f"{title}, stride on the 3x3 conv, {origin}",
                stride_placement="torchvision",
                weights_layout=style,
                paper=paper_figures(architecture, se=has_se) if style == "caffe" else None,
                checkpoint_filter=resnet_checkpoint_filter,
            )
        )


def _register_mobilenet_pair() -> None:
    for name, twin, has_se in (("se_mobilenet", "mobilenet", True), ("mobilenet", "se_mobilenet", False)):
        register(
            ModelSpec(
                name=name,
                family="mobilenet",
                architecture="mobilenet",
                has_se=has_se,
                twin=twin,
                builder=partial(build_mobilenet, se=has_se),
                description=f"{'SE-' if has_se else ''}MobileNet v1 1.0"
                + (", SE after each depthwise-separable block" if has_se else ""),
                paper=paper_figures("mobilenet", se=has_se),
                classifier="fc",
            )
        )


def _register_vgg_pair() -> None:
    for name, twin, has_se in (("se_vgg16_bn", "vgg16_bn", True), ("vgg16_bn", "se_vgg16_bn", False)):
        register(
            ModelSpec(
                name=name,
                family="vgg",
                architecture="vgg16_bn",
                has_se=has_se,
                twin=twin,
                builder=partial(build_vgg16_bn, se=has_se),
                description=f"{'SE-' if has_se else ''}VGG-16 with batch norm"
                + (", SE after each conv+BN+ReLU" if has_se else ""),
                paper=paper_figures("vgg16_bn", se=has_se),
                classifier="classifier.6",
            )
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
