from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from se_deploy.data.images import load_image, scan_image_folder
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing


def _png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_class_folders_give_sorted_labels(tmp_path: Path) -> None:
    _png(tmp_path / "cat" / "a.png", (0, 0, 0))
    _png(tmp_path / "ant" / "b.jpg", (0, 0, 0))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    folder = scan_image_folder(tmp_path)
    assert folder.classes == ("ant", "cat")
    assert [(i.path.name, i.label) for i in folder.images] == [("b.jpg", 0), ("a.png", 1)]


def test_flat_folder_with_labels_file(tmp_path: Path) -> None:
    _png(tmp_path / "x1.png", (0, 0, 0))
    _png(tmp_path / "x2.png", (0, 0, 0))
    labels = tmp_path.parent / f"{tmp_path.name}-labels.txt"
    labels.write_text("# name label\nx1.png 3\nx2.png,7\n")
    folder = scan_image_folder(tmp_path, labels_file=labels)
    assert [i.label for i in folder.images] == [3, 7]
    labels.write_text("x1.png three\n")
    with pytest.raises(InvalidArgumentError, match="expected 'IMAGE_NAME LABEL'"):
        scan_image_folder(tmp_path, labels_file=labels)


def test_missing_and_empty_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        scan_image_folder(tmp_path / "nope")
    with pytest.raises(InvalidArgumentError, match="no images"):
        scan_image_folder(tmp_path)


def test_load_image_resizes_crops_and_normalizes(tmp_path: Path) -> None:
    _png(tmp_path / "red.png", (255, 0, 0), size=(64, 48))
    pre = Preprocessing(resize_size=36, crop_size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    array = load_image(tmp_path / "red.png", pre)
    assert array.shape == (3, 32, 32) and array.dtype == np.float32
    np.testing.assert_allclose(array[:, 5, 5], [1.0, -1.0, -1.0], atol=1e-6)


def test_unreadable_image_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InvalidArgumentError, match="cannot read image"):
        load_image(bad, Preprocessing(resize_size=36, crop_size=32))
