"""Triton kernels for the fused SE op (semantics: ``se_deploy/rewrite/fused_op.py``).

Three launches, each one pass over what it touches:

* ``squeeze``  reads X once            -> S (N, C) fp32 means
* ``excite``   reads S, W1, B1, W2, B2 -> G (N, C) fp32 gates (tiny: the two FCs, activation, gate)
* ``scale``    reads X (and R) once, writes Y = X * G [+ R] [relu]

so the big tensor moves 2 reads + 1 write (3 reads + 1 write with the residual), against 4-7 passes
for the unfused ops. Layouts: NCHW and channels-last (NHWC) through strides: the H*W plane must be
flattenable (stride_h == W * stride_w), true for both. FP32 and FP16 inputs; math in FP32.

Tested on CPU with Triton's interpreter (``TRITON_INTERPRET=1``); compiled for the GPU otherwise.
"""

from __future__ import annotations

import triton
import triton.language as tl

ACTIVATION_CODES = {"relu": 0, "silu": 1, "hard_swish": 2, "leaky_relu": 3, "gelu": 4}
GATE_CODES = {"sigmoid": 0, "hard_sigmoid": 1}


@triton.jit
def squeeze_kernel(
    x_ptr,
    s_ptr,
    C,
    HW,
    stride_n,
    stride_c,
    stride_hw,
    inv_hw,
    BLOCK_C: tl.constexpr,
    BLOCK_HW: tl.constexpr,
):
    n = tl.program_id(0)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = c < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    base = x_ptr + n * stride_n
    for start in range(0, HW, BLOCK_HW):
        hw = start + tl.arange(0, BLOCK_HW)
        mask = (hw[:, None] < HW) & c_mask[None, :]
        tile = tl.load(base + hw[:, None] * stride_hw + c[None, :] * stride_c, mask=mask, other=0.0)
        acc += tl.sum(tile.to(tl.float32), axis=0)
    tl.store(s_ptr + n * C + c, acc * inv_hw, mask=c_mask)


@triton.jit
def excite_kernel(
    s_ptr,
    w1_ptr,
    b1_ptr,
    w2_ptr,
    b2_ptr,
    g_ptr,
    C,
    CR,
    act_alpha,
    gate_alpha,
    gate_beta,
    ACT: tl.constexpr,
    GATE: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    n = tl.program_id(0)
    r = tl.arange(0, BLOCK_R)
    r_mask = r < CR
    hidden = tl.zeros((BLOCK_R,), dtype=tl.float32)
    for start in range(0, C, BLOCK_C):
        c = start + tl.arange(0, BLOCK_C)
        c_mask = c < C
        s = tl.load(s_ptr + n * C + c, mask=c_mask, other=0.0)
        w = tl.load(w1_ptr + r[:, None] * C + c[None, :], mask=r_mask[:, None] & c_mask[None, :], other=0.0)
        hidden += tl.sum(w.to(tl.float32) * s[None, :], axis=1)
    hidden += tl.load(b1_ptr + r, mask=r_mask, other=0.0).to(tl.float32)
    if ACT == 0:
        hidden = tl.maximum(hidden, 0.0)
    elif ACT == 1:
        hidden = hidden / (1.0 + tl.exp(-hidden))
    elif ACT == 2:
        hidden = hidden * tl.minimum(tl.maximum(hidden / 6.0 + 0.5, 0.0), 1.0)
    elif ACT == 3:
        hidden = tl.where(hidden >= 0, hidden, act_alpha * hidden)
    else:
        hidden = 0.5 * hidden * (1.0 + tl.math.erf(hidden * 0.7071067811865476))
    hidden = tl.where(r_mask, hidden, 0.0)
    for start in range(0, C, BLOCK_C):
        c = start + tl.arange(0, BLOCK_C)
        c_mask = c < C
        w = tl.load(w2_ptr + c[:, None] * CR + r[None, :], mask=c_mask[:, None] & r_mask[None, :], other=0.0)
        excited = tl.sum(w.to(tl.float32) * hidden[None, :], axis=1)
        excited += tl.load(b2_ptr + c, mask=c_mask, other=0.0).to(tl.float32)
        if GATE == 0:
            gate = 1.0 / (1.0 + tl.exp(-excited))
        else:
            gate = tl.minimum(tl.maximum(gate_alpha * excited + gate_beta, 0.0), 1.0)
        tl.store(g_ptr + n * C + c, gate, mask=c_mask)


@triton.jit
def scale_kernel(
    x_ptr,
    g_ptr,
    r_ptr,
    y_ptr,
    C,
    HW,
    sxn,
    sxc,
    sxhw,
    srn,
    src,
    srhw,
    syn,
    syc,
    syhw,
    HAS_RESIDUAL: tl.constexpr,
    RESIDUAL_RELU: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_HW: tl.constexpr,
):
    n = tl.program_id(0)
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    hw = tl.program_id(2) * BLOCK_HW + tl.arange(0, BLOCK_HW)
    c_mask = c < C
    mask = (hw[:, None] < HW) & c_mask[None, :]
    x = tl.load(x_ptr + n * sxn + hw[:, None] * sxhw + c[None, :] * sxc, mask=mask, other=0.0)
    gate = tl.load(g_ptr + n * C + c, mask=c_mask, other=0.0)
    y = x.to(tl.float32) * gate[None, :]
    if HAS_RESIDUAL:
        residual = tl.load(r_ptr + n * srn + hw[:, None] * srhw + c[None, :] * src, mask=mask, other=0.0)
        y += residual.to(tl.float32)
        if RESIDUAL_RELU:
            y = tl.maximum(y, 0.0)
    tl.store(y_ptr + n * syn + hw[:, None] * syhw + c[None, :] * syc, y.to(y_ptr.dtype.element_ty), mask=mask)


# --- Ahead-of-time entry points for TensorRT plugins -------------------------------------------------
# TensorRT's AOT plugins launch one kernel with the arguments (input pointers, extra int32 scalars,
# output pointers), on linear NCHW tensors; attributes are baked in as constexprs. These wrappers give
# the kernels above that calling convention.


@triton.jit
def se_squeeze_aot(x_ptr, C, HW, s_ptr, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr):
    squeeze_kernel(x_ptr, s_ptr, C, HW, C * HW, HW, 1, 1.0 / HW, BLOCK_C, BLOCK_HW)


@triton.jit
def se_excite_aot(
    s_ptr,
    w1_ptr,
    b1_ptr,
    w2_ptr,
    b2_ptr,
    C,
    CR,
    g_ptr,
    ACT: tl.constexpr,
    GATE: tl.constexpr,
    ACT_ALPHA: tl.constexpr,
    GATE_ALPHA: tl.constexpr,
    GATE_BETA: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_R: tl.constexpr,
):
    excite_kernel(
        s_ptr,
        w1_ptr,
        b1_ptr,
        w2_ptr,
        b2_ptr,
        g_ptr,
        C,
        CR,
        ACT_ALPHA,
        GATE_ALPHA,
        GATE_BETA,
        ACT,
        GATE,
        BLOCK_C,
        BLOCK_R,
    )


@triton.jit
def se_scale_aot(x_ptr, g_ptr, C, HW, y_ptr, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr):
    scale_kernel(
        x_ptr, g_ptr, x_ptr, y_ptr, C, HW, C * HW, HW, 1, C * HW, HW, 1, C * HW, HW, 1, False, False, BLOCK_C, BLOCK_HW
    )


@triton.jit
def se_scale_residual_aot(
    x_ptr, g_ptr, r_ptr, C, HW, y_ptr, RESIDUAL_RELU: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr
):
    scale_kernel(
        x_ptr,
        g_ptr,
        r_ptr,
        y_ptr,
        C,
        HW,
        C * HW,
        HW,
        1,
        C * HW,
        HW,
        1,
        C * HW,
        HW,
        1,
        True,
        RESIDUAL_RELU,
        BLOCK_C,
        BLOCK_HW,
    )
