"""Does a labeled image folder fit a classifier? Say what was found, refuse what cannot match.

Class sub-folders named by class index (``0``, ``1``, ..., as ``make-digits`` writes them) are labeled
by that index, so a subset of the classes is fine. Other names follow the ImageNet-folder convention
(sorted names = class indices), which only works when there is one folder per class of the model.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from se_deploy.data.images import ImageFolder, LabeledImage
from se_deploy.errors import InvalidArgumentError

_LISTED = 6


def describe(folder: ImageFolder) -> str:
    """``10 class folders, 450 images (44-46 per class): 0: 45, 1: 46, ...`` or the flat-folder equivalent."""
    if not folder.classes:
        labeled = sum(image.label is not None for image in folder.images)
        return f"flat folder {str(folder.root)!r}: {len(folder.images)} images, {labeled} with a label"
    counts = Counter(image.label for image in folder.images)
    per_class = [counts.get(index, 0) for index in range(len(folder.classes))]
    listed = ", ".join(f"{name}: {count}" for name, count in zip(folder.classes[:_LISTED], per_class, strict=False))
    more = f", ... ({len(folder.classes) - _LISTED} more)" if len(folder.classes) > _LISTED else ""
    return (
        f"{len(folder.classes)} class folder(s) in {str(folder.root)!r}, {len(folder.images)} images "
        f"({min(per_class)}-{max(per_class)} per class): {listed}{more}"
    )


def _by_index(classes: tuple[str, ...]) -> list[int] | None:
    if classes and all(name.isdecimal() for name in classes):
        return [int(name) for name in classes]
    return None


def match_layout(folder: ImageFolder, num_classes: int | None) -> tuple[ImageFolder, str]:
    """Labels that mean the model's classes, and a one-line description of the folder; raises if none can."""
    summary = describe(folder)
    if not num_classes:
        return folder, summary
    if not folder.classes:
        out_of_range = sorted(
            {i.label for i in folder.images if i.label is not None and not 0 <= i.label < num_classes}
        )
        if out_of_range:
            raise InvalidArgumentError(
                f"labels {out_of_range[:_LISTED]} are outside the model's {num_classes} classes (0..{num_classes - 1}); "
                f"found {summary}"
            )
        return folder, summary
    indices = _by_index(folder.classes)
    if indices is not None:
        too_big = [index for index in indices if index >= num_classes]
        if too_big:
            raise InvalidArgumentError(
                f"class folders {too_big[:_LISTED]} name classes the model does not have (it has {num_classes}: "
                f"0..{num_classes - 1}); found {summary}"
            )
        images = tuple(
            LabeledImage(image.path, indices[image.label] if image.label is not None else None)
            for image in folder.images
        )
        return dataclasses.replace(folder, images=images), summary + " (labeled by folder name = class index)"
    if len(folder.classes) != num_classes:
        raise InvalidArgumentError(
            f"found {summary}, but the model has {num_classes} classes: give one sub-folder per class (sorted "
            f"names = class order, as ImageNet's), folders named by class index 0..{num_classes - 1}, "
            "or a flat folder with --labels FILE"
        )
    return folder, summary
