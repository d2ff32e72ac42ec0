"""An image folder's class layout must be able to match the model: what was found is said, a mismatch refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from se_deploy.data.images import ImageFolder, LabeledImage
from se_deploy.data.layout import match_layout
from se_deploy.errors import InvalidArgumentError


def folder(classes: dict[str, int]) -> ImageFolder:
    images = [
        LabeledImage(Path(f"/data/{name}/{i}.png"), label)
        for label, (name, count) in enumerate(classes.items())
        for i in range(count)
    ]
    return ImageFolder(Path("/data"), tuple(images), tuple(classes))


def test_one_named_class_folder_for_a_ten_class_model_is_refused_and_described() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        match_layout(folder({"cats": 46}), 10)
    message = str(caught.value)
    assert "1 class folder(s)" in message and "cats: 46" in message and "the model has 10 classes" in message


def test_named_class_folders_must_be_one_per_class() -> None:
    with pytest.raises(InvalidArgumentError, match="the model has 10 classes"):
        match_layout(folder({"bird": 3, "cat": 3, "dog": 3}), 10)
    matched, summary = match_layout(folder({f"n{i:08d}": 2 for i in range(10)}), 10)  # ImageNet-style wnids
    assert [image.label for image in matched.images][::2] == list(range(10)) and "10 class folder(s)" in summary


def test_index_named_folders_are_labeled_by_name_even_a_subset() -> None:
    matched, summary = match_layout(folder({"3": 2, "7": 1}), 10)
    assert [image.label for image in matched.images] == [3, 3, 7]
    assert "labeled by folder name" in summary
    # sorted names put "10" before "2": the index in the name, not the sort position, is the label
    matched, _ = match_layout(folder({"0": 1, "1": 1, "10": 1, "2": 1}), 12)
    assert [image.label for image in matched.images] == [0, 1, 10, 2]
    with pytest.raises(InvalidArgumentError, match=r"class folders \[10\] name classes the model does not have"):
        match_layout(folder({"0": 1, "10": 1}), 10)


def test_flat_folder_labels_must_be_in_range() -> None:
    flat = ImageFolder(
        Path("/data"), (LabeledImage(Path("/data/a.png"), 12), LabeledImage(Path("/data/b.png"), None)), ()
    )
    with pytest.raises(InvalidArgumentError, match=r"labels \[12\] are outside the model's 10 classes"):
        match_layout(flat, 10)
    _, summary = match_layout(flat, 20)
    assert "2 images, 1 with a label" in summary
