"""Image-like test inputs: normalized smooth images (numpy only), shared by every check that needs inputs
with the statistics of real images rather than white noise."""

from __future__ import annotations

import numpy as np


def image_like_inputs(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Normalized smooth images (low-frequency colour fields + gradients + mild noise), not white noise.

    Stock and native graphs agree on white noise too, but image statistics keep activations in the
    range real inputs reach (no saturated gates hiding a wrong scale).
    """
    n, channels, height, width = shape
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, channels, 5, 5))
    ys = np.linspace(0, 4, height)
    xs = np.linspace(0, 4, width)
    y0, x0 = np.floor(ys).astype(int).clip(0, 3), np.floor(xs).astype(int).clip(0, 3)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = coarse[:, :, y0][:, :, :, x0] * (1 - fx) + coarse[:, :, y0][:, :, :, x0 + 1] * fx
    bottom = coarse[:, :, y0 + 1][:, :, :, x0] * (1 - fx) + coarse[:, :, y0 + 1][:, :, :, x0 + 1] * fx
    images = top * (1 - fy) + bottom * fy + rng.normal(0, 0.03, (n, channels, height, width))
    mean = np.array([0.485, 0.456, 0.406][:channels] + [0.5] * max(0, channels - 3))[None, :, None, None]
    std = np.array([0.229, 0.224, 0.225][:channels] + [0.25] * max(0, channels - 3))[None, :, None, None]
    return ((images.clip(0, 1) - mean) / std).astype(np.float32)
