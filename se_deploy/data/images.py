"""Image folders (ImageNet layout or flat) and the eval transform a model's metadata describes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
_RESAMPLING = {"bilinear": 2, "bicubic": 3, "nearest": 0}  # PIL.Image.Resampling values


@dataclass(frozen=True)
class LabeledImage:
    path: Path
    label: int | None


@dataclass(frozen=True)
class ImageFolder:
    """Images under ``root``: class sub-folders (sorted names = class indices) or a flat folder."""

    root: Path
    images: tuple[LabeledImage, ...]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


def scan_image_folder(root: Path, *, labels_file: Path | None = None) -> ImageFolder:
    """List the images of ``root``; labels come from class sub-folders or ``labels_file`` (``name label``)."""
    if not root.exists():
        raise InvalidArgumentError(f"image folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise InvalidArgumentError(f"{str(root)!r} is not a folder of images")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    images: list[LabeledImage] = []
    classes: tuple[str, ...] = ()
    if subfolders and labels_file is None:
        classes = tuple(p.name for p in subfolders)
        for label, folder in enumerate(subfolders):
            images.extend(LabeledImage(p, label) for p in _image_files(folder))
    else:
        labels = _read_labels(labels_file) if labels_file else {}
        for path in _image_files(root):
            images.append(LabeledImage(path, labels.get(path.name)))
        if labels_file and not any(image.label is not None for image in images):
            raise InvalidArgumentError(f"no image in {str(root)!r} is named in {str(labels_file)!r}")
    if not images:
        raise InvalidArgumentError(
            f"no images in {str(root)!r} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}"
            f"{' in its class sub-folders' if subfolders else ''})"
        )
    return ImageFolder(root, tuple(images), classes)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _read_labels(path: Path) -> dict[str, int]:
    if not path.is_file():
        raise InvalidArgumentError(f"labels file {str(path)!r} does not exist")
    labels = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise InvalidArgumentError(f"{path!s}:{number}: expected 'IMAGE_NAME LABEL', got {line!r}")
        labels[Path(parts[0]).name] = int(parts[1])
    return labels


def load_image(path: Path, preprocessing: Preprocessing) -> np.ndarray:
    """One image file as a float32 (3, crop, crop) array: resize shorter side, center crop, scale, normalize."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return preprocess_image(image, preprocessing)
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgumentError(f"cannot read image {str(path)!r}: {exc}") from None


def preprocess_any(image: Any, preprocessing: Preprocessing) -> np.ndarray:
    """An image path, PIL image or uint8 array through the eval transform."""
    if isinstance(image, str | os.PathLike):
        return load_image(Path(image), preprocessing)
    return preprocess_image(image, preprocessing)


def preprocess_image(image: Any, preprocessing: Preprocessing) -> np.ndarray:
    """A PIL image, or an H x W x 3 (or H x W) uint8 array, through the eval transform."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise InvalidArgumentError(
                f"expected an H x W x 3 uint8 image array, got {image.dtype} of shape {image.shape}"
            )
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise InvalidArgumentError(f"expected a PIL image or a uint8 array, got {type(image).__name__}")
    image = image.convert("RGB")
    width, height = image.size
    scale = preprocessing.resize_size / min(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = image.resize(size, _RESAMPLING.get(preprocessing.interpolation, 2))
    crop = preprocessing.crop_size
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    image = image.crop((left, top, left + crop, top + crop))
    array = np.asarray(image, dtype=np.float32) / 255.0
    if preprocessing.color_space == "BGR":  # Caffe-trained weights (BN-Inception) read channels reversed
        array = array[..., ::-1]
    low, high = preprocessing.pixel_range
    array = array * (high - low) + low
    array = (array - np.asarray(preprocessing.mean, np.float32)) / np.asarray(preprocessing.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def iterate_batches(
    images: tuple[LabeledImage, ...] | list[LabeledImage], preprocessing: Preprocessing, batch_size: int
) -> Iterator[tuple[np.ndarray, list[int | None]]]:
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        yield np.stack([load_image(i.path, preprocessing) for i in chunk]), [i.label for i in chunk]
