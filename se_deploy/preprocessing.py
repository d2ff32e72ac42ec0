"""How images must be prepared for a model: a value type shared by models, data, precision and serving.

A leaf module: it imports nothing else of se-deploy, so any stage may use it without import cycles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

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
