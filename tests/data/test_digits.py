from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from se_deploy.data.digits import digits_split
from se_deploy.data.images import scan_image_folder
from se_deploy.errors import InvalidArgumentError


def test_splits_are_deterministic_disjoint_and_stratified() -> None:
    train_x, _train_y, train_i = digits_split("train")
    _test_x, test_y, test_i = digits_split("test")
    assert (len(train_i), len(test_i)) == (1347, 450)
    assert not set(train_i) & set(test_i)
    np.testing.assert_array_equal(digits_split("test")[2], test_i)
    assert np.bincount(test_y).min() >= 40  # every digit is in the test split
    assert train_x.dtype == np.uint8 and train_x.max() == 255
    with pytest.raises(InvalidArgumentError, match="split"):
        digits_split("val")


def test_written_folder_is_an_imagenet_layout(digits_folders: dict[str, Path]) -> None:
    folder = scan_image_folder(digits_folders["test"])
    assert folder.classes == tuple(str(d) for d in range(10))
    assert len(folder) == 450
