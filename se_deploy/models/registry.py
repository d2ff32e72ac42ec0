"""The model registry: one ``ModelSpec`` per name, ``create_model`` and ``list_models``.

Every SE model names its non-SE twin (and the twin names it back): the same network, block for
block, with the SE switch off. That pair is how se-deploy measures what SE costs.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from se_deploy.errors import InvalidArgumentError, UnknownModelError
from se_deploy.models.paper import PaperFigures


@dataclass(frozen=True)
class AdaptedCheckpoint:
    """A state dict renamed to the zoo's module names, and what the filter learned about it."""

    state_dict: dict[str, torch.Tensor]
    layout: str
    notes: tuple[str, ...] = ()


# (state_dict, spec, source) -> AdaptedCheckpoint; raises WeightsError when the weights cannot fit.
CheckpointFilter = Callable[[dict[str, "torch.Tensor"], "ModelSpec", str], AdaptedCheckpoint]


COLOR_SPACES = ("RGB", "BGR")  # BGR: Caffe-trained weights (Cadene's BN-Inception)


@dataclass(frozen=True)
class Preprocessing:
    """How images must be prepared for the model (torchvision-style eval transform)."""

    resize_size: int
    crop_size: int
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"
    color_space: str = "RGB"
    pixel_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.color_space not in COLOR_SPACES:
            raise ValueError(f"color_space must be one of {COLOR_SPACES}, got {self.color_space!r}")

    def for_crop(self, crop_size: int) -> Preprocessing:
        """The same transform for another input size (the resize keeps its ratio to the crop)."""
        resize = round(crop_size * self.resize_size / self.crop_size)
        return dataclasses.replace(self, resize_size=resize, crop_size=crop_size)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Preprocessing:
        """The inverse of ``to_dict``; raises KeyError/TypeError/ValueError on an incomplete record."""
        return cls(
            resize_size=int(raw["resize_size"]),
            crop_size=int(raw["crop_size"]),
            mean=tuple(raw["mean"]),  # type: ignore[arg-type]
            std=tuple(raw["std"]),  # type: ignore[arg-type]
            interpolation=str(raw.get("interpolation", "bilinear")),
            color_space=str(raw.get("color_space", "RGB")),
            pixel_range=tuple(raw.get("pixel_range", (0.0, 1.0))),  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "resize_size": self.resize_size,
            "crop_size": self.crop_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "color_space": self.color_space,
            "pixel_range": list(self.pixel_range),
        }


IMAGENET_224 = Preprocessing(resize_size=256, crop_size=224)


@dataclass(frozen=True)
class ModelSpec:
    """Everything se-deploy knows about one registered model."""

    name: str
    family: str
    architecture: str  # the network without SE, e.g. "resnet50"; keys the paper's table
    has_se: bool
    twin: str
    builder: Callable[..., nn.Module] = field(repr=False)
    description: str
    preprocessing: Preprocessing = IMAGENET_224
    min_image_size: int = 32
    num_classes: int = 1000
    se_reduction: int | None = 16
    stride_placement: str | None = None
    # Which public layout its weights come in: "caffe" (Cadene / timm legacy_*: layer0, se_module,
    # ceil-mode stem pool) or "torchvision" (torchvision / timm). None: same as stride_placement.
    weights_layout: str | None = None
    tiny: bool = False
    paper: PaperFigures | None = None
    classifier: str = "fc"  # module name of the final Linear; its size gives a checkpoint's classes
    checkpoint_filter: CheckpointFilter | None = field(default=None, repr=False)
    notes: str = ""

    @property
    def image_size(self) -> int:
        return self.preprocessing.crop_size

    def build(self, *, num_classes: int | None = None, se_reduction: int | None = None) -> nn.Module:
        """Instantiate the network with fresh weights."""
        kwargs: dict[str, Any] = {"num_classes": num_classes or self.num_classes}
        if se_reduction is not None:
            if not self.has_se:
                raise InvalidArgumentError(
                    f"{self.name} has no SE blocks, so se_reduction does not apply; "
                    f"use its SE twin {self.twin!r} instead"
                )
            if se_reduction < 1:
                raise InvalidArgumentError(f"se_reduction must be >= 1, got {se_reduction}")
            kwargs["se_reduction"] = se_reduction
        elif self.has_se:
            kwargs["se_reduction"] = self.se_reduction
        return self.builder(**kwargs)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_zoo_loaded() -> None:
    # Importing the zoo modules registers their models; done lazily to avoid an import cycle.
    from se_deploy.models import zoo  # noqa: F401


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name``; an unknown name raises with the closest registered names."""
    _ensure_zoo_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `se-deploy list-models` to see every model."
        ) from None


def list_models(*, include_tiny: bool = False, family: str | None = None) -> list[str]:
    """Registered model names, SE models followed by their twins, in registration order."""
    _ensure_zoo_loaded()
    families = sorted({spec.family for spec in _REGISTRY.values()})
    if family is not None and family not in families:
        raise InvalidArgumentError(f"unknown family {family!r}; choose one of {', '.join(families)}")
    return [
        spec.name
        for spec in _REGISTRY.values()
        if (include_tiny or not spec.tiny) and (family is None or spec.family == family)
    ]


def twin_of(name: str) -> str:
    """The counterpart of ``name``: the non-SE twin of an SE model, the SE model of a twin."""
    return get_spec(name).twin


def create_model(
    name: str,
    pretrained: bool | str | os.PathLike[str] = False,
    *,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    hub_cache_dir: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """Build ``name`` in eval mode; ``pretrained`` is a checkpoint path or ``hf-hub:owner/repo``.

    se-deploy bundles no weights, so ``pretrained=True`` is an error that says where to get some.
    When loading a checkpoint, ``num_classes`` defaults to the checkpoint's classifier size.
    """
    from se_deploy.models.checkpoint import load_pretrained

    spec = get_spec(name)
    if pretrained is True:
        raise InvalidArgumentError(
            "se-deploy ships no weights. Pass a checkpoint instead: pretrained='path/to/weights.pth' "
            "(or .safetensors), or pretrained='hf-hub:timm/seresnet50.a1_in1k' (online, or in the HF cache)."
        )
    if pretrained is False or pretrained is None:
        return spec.build(num_classes=num_classes, se_reduction=se_reduction).eval()
    model, _info = load_pretrained(
        spec, pretrained, num_classes=num_classes, se_reduction=se_reduction, hub_cache_dir=hub_cache_dir
    )
    return model
