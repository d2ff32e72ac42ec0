from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from se_deploy.errors import InvalidArgumentError
from se_deploy.precision.calibration import load_calibration_set
from se_deploy.preprocessing import Preprocessing

PRE = Preprocessing(resize_size=36, crop_size=32)


def _images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (40, 40), (i * 20 % 255, 10, 10)).save(folder / f"{i:02d}.png")


def test_samples_are_spread_and_batched(tmp_path: Path) -> None:
    _images(tmp_path, 10)
    calibration = load_calibration_set(tmp_path, PRE, samples=4, batch_size=3)
    assert calibration.samples == 4 and [b.shape[0] for b in calibration] == [3, 1]
    assert calibration.notes == []


def test_fewer_images_than_asked_is_a_note(tmp_path: Path) -> None:
    _images(tmp_path, 3)
    calibration = load_calibration_set(tmp_path, PRE, samples=100)
    assert calibration.samples == 3
    assert "asked for 100 calibration images" in calibration.notes[0] and "has 3" in calibration.notes[0]


def test_unreadable_images_are_skipped_with_a_count(tmp_path: Path) -> None:
    _images(tmp_path, 3)
    (tmp_path / "broken.png").write_bytes(b"nope")
    calibration = load_calibration_set(tmp_path, PRE, samples=4)
    assert calibration.samples == 3 and "skipped 1 unreadable image(s) of 4: broken.png" in calibration.notes[0]


def test_empty_and_all_unreadable_folders_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no images"):
        load_calibration_set(tmp_path, PRE)
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(InvalidArgumentError, match="could be read"):
        load_calibration_set(tmp_path, PRE)
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        load_calibration_set(tmp_path, PRE, samples=0)
