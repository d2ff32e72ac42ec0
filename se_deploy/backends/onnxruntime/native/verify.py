"""Build-time check of an SE-native graph against stock ONNX Runtime on image-like inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# max |native - stock| / max |stock|, export verification's rtol. Float32 reassociation (folded weights, W1 W3)
# is ~1e-6 on well-conditioned networks but reaches ~1e-4 on deep random ones (SENet-154: 1.25e-4, which a
# 1e-4 limit refused); a layout or algebra mistake is O(1), and any clear top-1 flip fails regardless.
MAX_RELATIVE_ERROR = 1e-3
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


def compare_logits(
    stock: np.ndarray, native: np.ndarray, batch: int, max_relative_error: float = MAX_RELATIVE_ERROR
) -> NativeVerification:
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
    passed = finite and relative <= max_relative_error and agreement >= MIN_TOP1_AGREEMENT
    return NativeVerification(batch, int(want.shape[0]), abs_error, relative, agreement, passed)
