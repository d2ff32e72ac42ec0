"""Fitting images to a non-square input: resize stretches, pad keeps the ratio and pads, crop covers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from se_deploy.data.fit import fit_image
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing

PRE = Preprocessing(resize_size=48, crop_size=48, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def square_with_white_left_half() -> Image.Image:
    array = np.zeros((100, 100, 3), np.uint8)
    array[:, :50] = 255
    return Image.fromarray(array)


def test_resize_stretches_to_the_full_size() -> None:
    out = fit_image(square_with_white_left_half(), (48, 320), "resize", PRE)
    assert out.shape == (3, 48, 320)
    assert out[0, :, :150].min() > 0.9 and out[0, :, 170:].max() < 0.1  # the halves stretch to 160 columns each


def test_pad_keeps_the_ratio_and_pads_the_right() -> None:
    out = fit_image(square_with_white_left_half(), (48, 320), "pad", PRE)
    assert out.shape == (3, 48, 320)
    assert out[0, :, :22].min() > 0.9 and out[0, :, 26:48].max() < 0.1  # the image is 48 x 48
    assert not out[:, :, 48:].any()  # zero padding after it


def test_crop_covers_and_takes_the_center() -> None:
    out = fit_image(square_with_white_left_half(), (48, 320), "crop", PRE)
    assert out.shape == (3, 48, 320)
    assert out[0, :, :150].min() > 0.9 and out[0, :, 170:].max() < 0.1  # scaled to 320 x 320, center rows


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="resize, pad, crop"):
        fit_image(square_with_white_left_half(), (48, 320), "squash", PRE)
