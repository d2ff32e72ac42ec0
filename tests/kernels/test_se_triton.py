"""The Triton kernels against the reference, on odd sizes, both layouts, FP32/FP16, every variant.
Without a GPU they run in Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("triton")

from se_deploy.kernels.ops import fused_se_triton, reference
from se_deploy.rewrite.fused_op import reference as numpy_reference
from se_deploy.se_variants import SEVariant

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SHAPES = [  # (N, C, H, W, Cr): H*W not a multiple of the blocks, C not a power of two, batch 1 and > 1
    (1, 12, 5, 7, 3),
    (3, 33, 9, 9, 5),
    (2, 70, 13, 11, 17),
    (1, 2, 1, 1, 1),
]


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, channels_last: bool, seed: int = 0):  # type: ignore[no-untyped-def]
    n, c, h, w, r = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g).to(DEVICE, dtype)
    res = torch.randn(n, c, h, w, generator=g).to(DEVICE, dtype)
    if channels_last:
        x, res = x.contiguous(memory_format=torch.channels_last), res.contiguous(memory_format=torch.channels_last)
    weights = [torch.randn(*s, generator=g).to(DEVICE) * 0.5 for s in ((r, c), (r,), (c, r), (c,))]
    return x, res, weights


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
@pytest.mark.parametrize("with_residual", [False, True], ids=["plain", "residual"])
def test_kernels_match_the_reference(shape, channels_last: bool, dtype: torch.dtype, with_residual: bool) -> None:  # type: ignore[no-untyped-def]
    x, res, (w1, b1, w2, b2) = _inputs(shape, dtype, channels_last)
    residual = res if with_residual else None
    y = fused_se_triton(x, w1, b1, w2, b2, residual)
    want = reference(x, w1, b1, w2, b2, residual)
    assert y.dtype == dtype and y.shape == x.shape
    assert y.stride() == x.stride()  # the output keeps the input's layout
    tolerance = 2e-2 if dtype == torch.float16 else 1e-5
    torch.testing.assert_close(y.float(), want.float(), atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("activation", ["relu", "silu", "hard_swish", "leaky_relu", "gelu"])
@pytest.mark.parametrize("gate", ["sigmoid", "hard_sigmoid"])
def test_every_activation_and_gate(activation: str, gate: str) -> None:
    x, res, (w1, b1, w2, b2) = _inputs((2, 24, 6, 6, 6), torch.float32, False, seed=1)
    kwargs = {"activation": activation, "gate": gate, "activation_alpha": 0.1, "gate_alpha": 0.2, "gate_beta": 0.4}
    torch.testing.assert_close(
        fused_se_triton(x, w1, b1, w2, b2, res, **kwargs),
        reference(x, w1, b1, w2, b2, res, **kwargs),
        atol=1e-5,
        rtol=1e-5,
    )


def test_torch_reference_equals_the_fused_op_definition() -> None:
    """One semantics: the PyTorch reference and the ONNX op's numpy definition agree."""
    x, res, (w1, b1, w2, b2) = _inputs((2, 10, 4, 4, 3), torch.float32, False, seed=2)
    variant = SEVariant(activation="silu", gate="hard_sigmoid", gate_alpha=0.2, gate_beta=0.4, residual=True)
    want = numpy_reference(*(t.cpu().numpy() for t in (x, w1, b1, w2, b2)), variant, res.cpu().numpy())
    got = reference(x, w1, b1, w2, b2, res, activation="silu", gate="hard_sigmoid", gate_alpha=0.2, gate_beta=0.4)
    np.testing.assert_allclose(got.cpu().numpy(), want, atol=1e-5)


def test_bad_shapes_are_refused() -> None:
    x, res, (w1, b1, w2, b2) = _inputs((1, 8, 4, 4, 2), torch.float32, False)
    with pytest.raises(ValueError, match="weights do not fit"):
        fused_se_triton(x, w2, b1, w1, b2)
    with pytest.raises(ValueError, match="residual shape"):
        fused_se_triton(x, w1, b1, w2, b2, res[:, :, :2])
    with pytest.raises(ValueError, match="N, C, H, W"):
        fused_se_triton(x[0], w1, b1, w2, b2)
