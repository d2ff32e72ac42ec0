"""Build-time check of an SE-native graph against stock ONNX Runtime on image-like inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MAX_RELATIVE_ERROR = 1e-4  # max |native - stock| / max |stock|: FP32 reassociation is ~1e-6
MIN_TOP1_AGREEMENT = 1.0  # on samples whose stock top-2 margin is clear of the error


@dataclass(frozen=True)
class NativeVerification:
    batch: int
    samples: int
    max_abs_error: float
    max_relative_error: float
    top1_agreement: float  # over samples whose stock top-2 margin exceeds 10x the max abs error
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"batch {self.batch}: max abs error {self.max_abs_error:.2e}, relative {self.max_relative_error:.2e}, "
            f"top-1 agreement {self.top1_agreement:.0%} on {self.samples} image-like samples"
        )


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


def compare_logits(stock: np.ndarray, native: np.ndarray, batch: int) -> NativeVerification:
    want, got = np.asarray(stock, np.float64), np.asarray(native, np.float64)
    abs_error = float(np.abs(want - got).max()) if want.size else 0.0
    scale = float(np.abs(want).max()) or 1.0
    relative = abs_error / scale
    finite = bool(np.isfinite(got).all())
    agreement = 1.0
    if want.ndim == 2 and want.shape[1] > 1:
        top2 = np.sort(want, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 10 * abs_error
        if clear.any():
            agreement = float((want.argmax(1) == got.argmax(1))[clear].mean())
    passed = finite and relative <= MAX_RELATIVE_ERROR and agreement >= MIN_TOP1_AGREEMENT
    return NativeVerification(batch, int(want.shape[0]), abs_error, relative, agreement, passed)
