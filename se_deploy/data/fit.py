"""Fit an image to a model's own (H, W) input, with an explicit aspect-ratio policy.

``resize``  stretch to H x W (aspect ratio not kept);
``pad``     scale to fit inside H x W keeping the ratio, zero-pad (after normalization) right and bottom
            (PaddleOCR's text-recognition convention);
``crop``    scale to cover H x W keeping the ratio, center crop (torchvision's eval transform when square).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing

FIT_POLICIES: tuple[str, ...] = ("resize", "pad", "crop")
_RESAMPLING = {"nearest": 0, "bilinear": 2, "bicubic": 3}


def load_fitted_image(path: Path, size: tuple[int, int], policy: str, preprocessing: Preprocessing) -> np.ndarray:
    """One image file as a float32 (3, H, W) array, fitted by ``policy`` and normalized as ``preprocessing``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return fit_image(image, size, policy, preprocessing)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgumentError(f"cannot read image {str(path)!r}: {exc}") from None


def fit_image(image: object, size: tuple[int, int], policy: str, preprocessing: Preprocessing) -> np.ndarray:
    from PIL import Image

    if policy not in FIT_POLICIES:
        raise InvalidArgumentError(f"aspect-ratio policy must be one of {', '.join(FIT_POLICIES)}, got {policy!r}")
    if not isinstance(image, Image.Image):
        raise InvalidArgumentError(f"expected a PIL image, got {type(image).__name__}")
    height, width = size
    image = image.convert("RGB")
    resample = _RESAMPLING.get(preprocessing.interpolation, 2)
    if policy == "resize":
        image = image.resize((width, height), resample)
        array, valid = _normalize(image, preprocessing), (height, width)
    else:
        w0, h0 = image.size
        scale = (min if policy == "pad" else max)(width / w0, height / h0)
        if policy == "pad":  # fit inside: one side equals the target, the other is at most it
            scaled = (max(1, min(width, round(w0 * scale))), max(1, min(height, round(h0 * scale))))
        else:  # cover: one side equals the target, the other is at least it
            scaled = (max(width, round(w0 * scale)), max(height, round(h0 * scale)))
        image = image.resize(scaled, resample)
        if policy == "crop":
            left, top = (scaled[0] - width) // 2, (scaled[1] - height) // 2
            image = image.crop((left, top, left + width, top + height))
            array, valid = _normalize(image, preprocessing), (height, width)
        else:
            array, valid = _normalize(image, preprocessing), (scaled[1], scaled[0])
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, : valid[0], : valid[1]] = array
    return out


def _normalize(image: object, preprocessing: Preprocessing) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32) / 255.0
    if preprocessing.color_space == "BGR":
        array = array[..., ::-1]
    low, high = preprocessing.pixel_range
    array = array * (high - low) + low
    array = (array - np.asarray(preprocessing.mean, np.float32)) / np.asarray(preprocessing.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))
