"""The fused SE as a PyTorch op: ``torch.ops.se_deploy.squeeze_excitation``.

Registered with ``torch.library`` (with a fake implementation), so ``torch.compile`` and CUDA graph
capture treat it as one opaque op (its schema is flat: ``op_arguments`` turns an ``SEVariant`` into its
trailing arguments). It runs the Triton kernels on CUDA tensors, and on CPU tensors when
Triton's interpreter is on (``TRITON_INTERPRET=1``, the tests); elsewhere the PyTorch reference.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from se_deploy.kernels.launch import (
    INTERPRETER_MIN_PROGRAMS,
    MIN_PROGRAMS,
    SQUEEZE_BLOCK_HW,
    excite_blocks,
    excite_program_cap,
    excite_programs,
    squeeze_blocks,
    squeeze_splits,
)
from se_deploy.se_variants import DEFAULT_VARIANT, Excitation, SEVariant


def reference(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    residual: torch.Tensor | None = None,
    variant: SEVariant | None = None,
    **attributes: Any,
) -> torch.Tensor:
    """The op's semantics in plain PyTorch (FP32 math), the oracle for the kernels.

    ``variant`` (or its fields as keywords, ``activation="silu"``): activation, gate and, with a
    ``residual`` tensor, ``residual_activation``."""
    variant = _variant(variant, attributes)
    scale = excitation(x.float().mean(dim=(2, 3)), w1, b1, w2, b2, variant)
    out = x.float() * scale[:, :, None, None]
    if residual is not None:
        out = out + residual.float()
        if variant.residual_relu:
            out = torch.relu(out)
    return out.to(x.dtype).contiguous(memory_format=_memory_format(x))


def excitation(
    squeezed: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    variant: Excitation = DEFAULT_VARIANT,
) -> torch.Tensor:
    """The gates (N, C), FP32, from the squeezed means (N, C): both FCs, the activation and the gate."""
    hidden = variant.activate_torch(squeezed.float() @ w1.float().t() + b1.float())
    return variant.gate_torch(hidden @ w2.float().t() + b2.float())


def _variant(variant: SEVariant | None, attributes: dict[str, Any]) -> SEVariant:
    if variant is not None and attributes:
        raise TypeError("pass either a variant or its fields as keywords, not both")
    return variant if variant is not None else SEVariant(**attributes)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    return (
        torch.channels_last
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        else torch.contiguous_format
    )


def triton_enabled(x: torch.Tensor) -> bool:
    return x.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


def _plane_strides(t: torch.Tensor) -> tuple[int, int, int]:
    """(stride_n, stride_c, stride_hw) of an N, C, H, W tensor whose H*W plane is flattenable."""
    return t.stride(0), t.stride(1), t.stride(3)


def _flattenable(t: torch.Tensor) -> bool:
    return t.stride(2) == t.shape[3] * t.stride(3) or t.shape[2] == 1


def fused_se_triton(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    residual: torch.Tensor | None = None,
    variant: SEVariant | None = None,
    **attributes: Any,
) -> torch.Tensor:
    """The op through the Triton kernels; ``variant`` as for ``reference``."""
    import triton

    from se_deploy.kernels.se_triton import excite_kernel, scale_kernel, squeeze_kernel  # needs Triton

    variant = _variant(variant, attributes)
    codes = variant.triton_constexprs()
    if x.dim() != 4:
        raise ValueError(f"squeeze_excitation takes an N, C, H, W tensor, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    reduced = w1.shape[0]
    if w1.shape != (reduced, c) or w2.shape != (c, reduced) or b1.shape != (reduced,) or b2.shape != (c,):
        raise ValueError(f"weights do not fit {c} channels: W1 {tuple(w1.shape)}, W2 {tuple(w2.shape)}")
    if not _flattenable(x):
        x = x.contiguous()
    if residual is not None:
        if residual.shape != x.shape:
            raise ValueError(f"residual shape {tuple(residual.shape)} differs from the input's {tuple(x.shape)}")
        if not _flattenable(residual):
            residual = residual.contiguous()
    hw = h * w
    w1, b1, w2, b2 = (t.contiguous() for t in (w1, b1, w2, b2))
    gates = torch.empty((n, c), device=x.device, dtype=torch.float32)
    y = torch.empty_like(x)
    channels_last = x.stride(1) == 1 and c > 1
    sxn, sxc, sxhw = _plane_strides(x)
    min_programs = MIN_PROGRAMS if x.is_cuda else INTERPRETER_MIN_PROGRAMS
    if channels_last:  # contiguous along C: wide channel blocks, and H*W split to fill the GPU
        block_c, block_hw = 64, 32
        splits = squeeze_splits(n * triton.cdiv(c, block_c), hw, block_hw, min_programs)
    else:  # contiguous along H*W: few channels per program (launch.squeeze_blocks), no split
        block_c, block_hw = int(squeeze_blocks(c, min_programs)["BLOCK_C"]), SQUEEZE_BLOCK_HW
        splits = 1
    hw_per_program = triton.cdiv(triton.cdiv(hw, splits), block_hw) * block_hw
    splits = triton.cdiv(hw, hw_per_program)
    make = torch.zeros if splits > 1 else torch.empty  # split partial sums are added atomically
    squeezed = make((n, c), device=x.device, dtype=torch.float32)
    squeeze_kernel[(n, triton.cdiv(c, block_c), splits)](
        x,
        squeezed,
        c,
        hw,
        sxn,
        sxc,
        sxhw,
        1.0 / hw,
        hw_per_program,
        SPLIT=splits > 1,
        BLOCK_C=block_c,
        BLOCK_HW=block_hw,
    )
    width = reduced if reduced <= 1024 else None  # wider hidden layers loop over blocks of hidden units
    blocks = excite_blocks(width, c, min_programs)
    cap = excite_program_cap(c, width, w1.element_size(), int(blocks["BLOCK_C"]))
    excite_kernel[(n, excite_programs(n, cap, min_programs))](
        squeezed,
        w1,
        b1,
        w2,
        b2,
        gates,
        c,
        reduced,
        codes["ACT_ALPHA"],
        codes["GATE_ALPHA"],
        codes["GATE_BETA"],
        ACT=codes["ACT"],
        GATE=codes["GATE"],
        **blocks,
    )
    block_c, block_hw = (64, 32) if channels_last else (16, 128)
    r = residual if residual is not None else x
    srn, src, srhw = _plane_strides(r)
    syn, syc, syhw = _plane_strides(y)
    grid = (n, triton.cdiv(c, block_c), triton.cdiv(hw, block_hw))
    scale_kernel[grid](
        x,
        gates,
        r,
        y,
        c,
        hw,
        sxn,
        sxc,
        sxhw,
        srn,
        src,
        srhw,
        syn,
        syc,
        syhw,
        HAS_RESIDUAL=residual is not None,
        RESIDUAL_RELU=variant.residual_relu,
        BLOCK_C=block_c,
        BLOCK_HW=block_hw,
    )
    return y


@torch.library.custom_op("se_deploy::squeeze_excitation", mutates_args=())
def squeeze_excitation(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    residual: torch.Tensor | None,
    activation: str,  # the excitation's fields (op_arguments gives them from an SEVariant)
    gate: str,
    activation_alpha: float,
    gate_alpha: float,
    gate_beta: float,
    residual_relu: bool,
) -> torch.Tensor:
    implementation = fused_se_triton if triton_enabled(x) else reference
    residual_activation = "relu" if residual_relu else "none"
    fields = (activation, activation_alpha, gate, gate_alpha, gate_beta, residual is not None, residual_activation)
    variant = SEVariant(*fields)  # SEVariant's field order
    return implementation(x, w1, b1, w2, b2, residual, variant)


def op_arguments(variant: Excitation) -> tuple[str, str, float, float, float]:
    """The excitation as ``squeeze_excitation``'s arguments after ``residual`` (then ``residual_relu``):
    torch.library ops take no dataclasses."""
    return variant.activation, variant.gate, variant.activation_alpha, variant.gate_alpha, variant.gate_beta


@squeeze_excitation.register_fake
def _squeeze_excitation_fake(x: torch.Tensor, *weights_residual_and_variant: object) -> torch.Tensor:
    return torch.empty_like(x)
