"""What se-deploy knows about one model (``ModelSpec``) and what a checkpoint filter returns.

Imported by the registry, the families and the checkpoint loader alike; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from se_deploy.errors import InvalidArgumentError
from se_deploy.models.paper import PaperFigures
from se_deploy.preprocessing import IMAGENET_224, Preprocessing


@dataclass(frozen=True)
class AdaptedCheckpoint:
    """A state dict renamed to the zoo's module names, and what the filter learned about it."""

    state_dict: dict[str, torch.Tensor]
    layout: str
    notes: tuple[str, ...] = ()


# (state_dict, spec, source) -> AdaptedCheckpoint; raises WeightsError when the weights cannot fit.
CheckpointFilter = Callable[[dict[str, "torch.Tensor"], "ModelSpec", str], AdaptedCheckpoint]


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
