"""Calibration batches for INT8 from an image folder, preprocessed as the model's metadata says."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from se_deploy.data.fit import load_fitted_image
from se_deploy.data.images import LabeledImage, load_image, scan_image_folder
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing

SELECTION_RULE = "file names sorted (class folders, then files); image int(i * found / samples) for i < samples"


@dataclass
class CalibrationSet:
    """Preprocessed calibration images, and what was noticed while reading them."""

    batches: list[np.ndarray]
    samples: int
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the images used, relative to the folder, in order

    def selection(self) -> dict[str, object]:
        """What ``engine.json`` records: the rule, the files and a digest of their names."""
        digest = hashlib.sha256("\n".join(self.files).encode()).hexdigest()
        return {"rule": SELECTION_RULE, "files": self.files, "files_sha256": digest}

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches)


def load_calibration_set(
    folder: Path,
    preprocessing: Preprocessing,
    *,
    samples: int = 256,
    batch_size: int = 8,
    size: tuple[int, int] | None = None,
    fit: str = "crop",
) -> CalibrationSet:
    """Up to ``samples`` images spread evenly over ``folder`` (all classes, when it has class folders).

    Deterministic: the same folder gives the same images in the same order on every machine
    (``SELECTION_RULE``). MinMax calibration does not depend on their order or batching anyway
    (benchmarks/results/int8_reproducibility.json), but the selection does change the ranges.

    ``size`` (H, W) is the model's own input size; unless it is ``preprocessing``'s square crop, images
    are fitted to it by ``fit`` (resize, pad or crop: ``se_deploy.data.fit``).
    """
    if samples < 1:
        raise InvalidArgumentError(f"--calib-samples must be at least 1, got {samples}")
    found = scan_image_folder(folder)
    notes = []
    chosen: list[LabeledImage] = list(found.images)
    if len(chosen) < samples:
        notes.append(f"asked for {samples} calibration images but {str(folder)!r} has {len(chosen)}: using all of them")
    else:
        step = len(chosen) / samples
        chosen = [chosen[int(i * step)] for i in range(samples)]
    arrays, unreadable, used = [], [], []
    for image in chosen:
        try:
            if size is None or (size == (preprocessing.crop_size, preprocessing.crop_size) and fit == "crop"):
                arrays.append(load_image(image.path, preprocessing))
            else:
                arrays.append(load_fitted_image(image.path, size, fit, preprocessing))
            used.append(image.path.relative_to(folder).as_posix())
        except InvalidArgumentError:
            unreadable.append(image.path.name)
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (" ..." if len(unreadable) > 5 else "")
        notes.append(f"skipped {len(unreadable)} unreadable image(s) of {len(chosen)}: {shown}")
    if not arrays:
        raise InvalidArgumentError(f"none of the {len(chosen)} calibration images in {str(folder)!r} could be read")
    batches = [np.stack(arrays[i : i + batch_size]) for i in range(0, len(arrays), batch_size)]
    return CalibrationSet(batches, len(arrays), notes, used)
