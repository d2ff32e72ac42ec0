"""The handwritten digits scikit-learn bundles (1,797 real 8x8 images): a labeled set we can ship.

ImageNet cannot be downloaded here, so accuracy is measured on these: written out as 32x32 RGB PNGs in
class folders (ImageNet layout), split into train/test deterministically (stratified, seed 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from se_deploy.errors import InvalidArgumentError
from se_deploy.fileio import ensure_writable_dir

SPLITS: tuple[str, ...] = ("train", "test", "all")
IMAGE_SIZE = 32
TEST_FRACTION = 0.25
SEED = 0


def digits_split(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (n, 8, 8) scaled to 0..255, labels, dataset indices) of ``split``."""
    if split not in SPLITS:
        raise InvalidArgumentError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InvalidArgumentError("the digits set needs scikit-learn: pip install 'se-deploy[data]'") from None
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    indices = np.arange(len(images))
    if split == "all":
        chosen = indices
    else:
        train, test = train_test_split(indices, test_size=TEST_FRACTION, random_state=SEED, stratify=digits.target)
        chosen = np.sort(train if split == "train" else test)
    return images[chosen], digits.target[chosen], chosen


def digits_rgb(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (n, 32, 32, 3) exactly as ``write_digits_folder`` writes them, labels, indices)."""
    from PIL import Image

    images, labels, indices = digits_split(split)
    pictures = [
        np.asarray(
            Image.fromarray(image, mode="L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR).convert("RGB")
        )
        for image in images
    ]
    return np.stack(pictures), labels, indices


def shifted_digits(split: str, shifts: tuple[int, ...] = (-2, 0, 2)) -> tuple[np.ndarray, np.ndarray]:
    """``split`` at every (dy, dx) in ``shifts`` x ``shifts`` pixels (black fill): more evaluation images.

    A shift of 2 pixels at 32x32 is half a pixel of the 8x8 original: the digit stays whole and its label
    holds, so INT8-vs-FP32 comparisons get 9x the images without touching the training split.
    """
    images, labels, _ = digits_rgb(split)
    out = []
    for dy in shifts:
        for dx in shifts:
            moved = np.zeros_like(images)
            h, w = images.shape[1:3]
            moved[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
                :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
            ]
            out.append(moved)
    return np.concatenate(out), np.tile(labels, len(shifts) ** 2)


def write_digits_folder(out: Path, *, split: str = "test") -> int:
    """Write ``split`` as ``out/<digit>/<index>.png`` (32x32 RGB); returns the number of images."""
    from PIL import Image

    images, labels, indices = digits_split(split)
    ensure_writable_dir(out)
    for image, label, index in zip(images, labels, indices, strict=True):
        folder = out / str(int(label))
        folder.mkdir(exist_ok=True)
        picture = Image.fromarray(image, mode="L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        picture.convert("RGB").save(folder / f"{int(index):04d}.png")
    return len(images)
