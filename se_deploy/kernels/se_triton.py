"""Triton kernels for the fused SE op (semantics: ``se_deploy/rewrite/fused_op.py``).

Three launches, each one pass over what it touches:

* ``squeeze``  reads X once            -> S (N, C) fp32 means
* ``excite``   reads S, W1, B1, W2, B2 -> G (N, C) fp32 gates (tiny: the two FCs, activation, gate)

Batch 1 must still fill a GPU (an H100 has 132 SMs): the squeeze takes few channels per program (and,
where ``s`` can be zeroed first, splits H*W with atomic partial sums); the excite splits each image's
output channels over several programs. Image offsets are 64-bit (N*C*H*W passes 2^31 at large batches).
* ``scale``    reads X (and R) once, writes Y = X * G [+ R] [relu]

so the big tensor moves 2 reads + 1 write (3 reads + 1 write with the residual), against 4-7 passes
for the unfused ops. Layouts: NCHW and channels-last (NHWC) through strides: the H*W plane must be
flattenable (stride_h == W * stride_w), true for both. FP32 and FP16 inputs; math in FP32.

Tested on CPU with Triton's interpreter (``TRITON_INTERPRET=1``); compiled for the GPU otherwise.

The ``ACT`` / ``GATE`` constexprs are the ``triton_code`` of the rows of ``se_deploy/se_variants.py``;
``_activate`` / ``_gate`` hold one branch per row (a code without a branch fails to compile).
"""

from __future__ import annotations

import triton
import triton.language as tl

from se_deploy.se_variants import activation_row, gate_row

# The table's codes, as the constexpr globals a Triton kernel may read.
RELU = tl.constexpr(activation_row("relu").triton_code)
SILU = tl.constexpr(activation_row("silu").triton_code)
HARD_SWISH = tl.constexpr(activation_row("hard_swish").triton_code)
LEAKY_RELU = tl.constexpr(activation_row("leaky_relu").triton_code)
GELU = tl.constexpr(activation_row("gelu").triton_code)
SIGMOID = tl.constexpr(gate_row("sigmoid").triton_code)
HARD_SIGMOID = tl.constexpr(gate_row("hard_sigmoid").triton_code)


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
    hw_per_program,
    SPLIT: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_HW: tl.constexpr,
):
    """Grid (N, cdiv(C, BLOCK_C), splits): program z sums H*W positions [z * hw_per_program, ...).

    With SPLIT, the partial means are atomically added into ``s`` (which must start zeroed): more
    programs when N x C alone cannot fill the GPU. Without it there is one program along H*W.
    """
    n = tl.program_id(0).to(tl.int64)  # 64-bit: n * stride_n reaches N*C*H*W, which can pass 2^31
    c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    c_mask = c < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    base = x_ptr + n * stride_n
    first = tl.program_id(2) * hw_per_program
    last = tl.minimum(first + hw_per_program, HW)
    for start in range(first, last, BLOCK_HW):
        hw = start + tl.arange(0, BLOCK_HW)
        mask = (hw[:, None] < last) & c_mask[None, :]
        tile = tl.load(base + hw[:, None] * stride_hw + c[None, :] * stride_c, mask=mask, other=0.0)
        acc += tl.sum(tile.to(tl.float32), axis=0)
    if SPLIT:
        tl.atomic_add(s_ptr + n * C + c, acc * inv_hw, mask=c_mask)
    else:
        tl.store(s_ptr + n * C + c, acc * inv_hw, mask=c_mask)


@triton.jit
def _activate(hidden, act_alpha, ACT: tl.constexpr):
    """One branch per row of ``se_variants.ACTIVATIONS``."""
    if ACT == RELU:
        hidden = tl.maximum(hidden, 0.0)
    elif ACT == SILU:
        hidden = hidden / (1.0 + tl.exp(-hidden))
    elif ACT == HARD_SWISH:
        hidden = hidden * tl.minimum(tl.maximum(hidden / 6.0 + 0.5, 0.0), 1.0)
    elif ACT == LEAKY_RELU:
        hidden = tl.where(hidden >= 0, hidden, act_alpha * hidden)
    elif ACT == GELU:
        hidden = 0.5 * hidden * (1.0 + tl.math.erf(hidden * 0.7071067811865476))
    else:
        tl.static_assert(False, "no Triton branch for this activation code: add it to se_triton._activate")
    return hidden


@triton.jit
def _gate(excited, gate_alpha, gate_beta, GATE: tl.constexpr):
    """One branch per row of ``se_variants.GATES``."""
    if GATE == SIGMOID:
        gate = 1.0 / (1.0 + tl.exp(-excited))
    elif GATE == HARD_SIGMOID:
        gate = tl.minimum(tl.maximum(gate_alpha * excited + gate_beta, 0.0), 1.0)
    else:
        tl.static_assert(False, "no Triton branch for this gate code: add it to se_triton._gate")
    return gate


@triton.jit
def _hidden(s_ptr, w1_ptr, b1_ptr, row, C, r, r_mask, act_alpha, ACT: tl.constexpr, BLOCK_K: tl.constexpr):
    """act(W1[r, :] . s[row, :] + b1[r]) for one block of hidden units ``r`` (0 where masked)."""
    hidden = tl.zeros(r.shape, dtype=tl.float32)
    for start in range(0, C, BLOCK_K):
        c = start + tl.arange(0, BLOCK_K)
        c_mask = c < C
        s = tl.load(s_ptr + row + c, mask=c_mask, other=0.0)
        w = tl.load(w1_ptr + r[:, None] * C + c[None, :], mask=r_mask[:, None] & c_mask[None, :], other=0.0)
        hidden += tl.sum(w.to(tl.float32) * s[None, :], axis=1)
    hidden += tl.load(b1_ptr + r, mask=r_mask, other=0.0).to(tl.float32)
    return tl.where(r_mask, _activate(hidden, act_alpha, ACT), 0.0)


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
    BLOCK_K: tl.constexpr,
    BLOCK_R: tl.constexpr,
    HIDDEN_FITS: tl.constexpr,
):
    """Grid (N, P): the P programs of an image split its output channels (BLOCK_C-channel blocks j, j+P,
    ...), so a small batch still spreads over the GPU; each computes the hidden layer it needs (FC1 over
    BLOCK_K input channels at a time: W1 is read once per program, from L2 after the first).

    HIDDEN_FITS (CR <= BLOCK_R, known when compiling): the hidden layer is computed once per program and
    kept in registers. Otherwise any width works: the hidden units are visited BLOCK_R at a time for each
    block of output channels (recomputed, nothing dropped).
    """
    n = tl.program_id(0).to(tl.int64)
    row = n * C
    programs = tl.num_programs(1)
    if HIDDEN_FITS:
        r = tl.arange(0, BLOCK_R)
        r_mask = r < CR
        hidden = _hidden(s_ptr, w1_ptr, b1_ptr, row, C, r, r_mask, act_alpha, ACT, BLOCK_K)
    for block in range(tl.program_id(1), tl.cdiv(C, BLOCK_C), programs):
        c = block * BLOCK_C + tl.arange(0, BLOCK_C)
        c_mask = c < C
        excited = tl.load(b2_ptr + c, mask=c_mask, other=0.0).to(tl.float32)
        if HIDDEN_FITS:
            w = tl.load(w2_ptr + c[:, None] * CR + r[None, :], mask=c_mask[:, None] & r_mask[None, :], other=0.0)
            excited += tl.sum(w.to(tl.float32) * hidden[None, :], axis=1)
        else:
            for r_start in range(0, CR, BLOCK_R):
                r_block = r_start + tl.arange(0, BLOCK_R)
                r_block_mask = r_block < CR
                part = _hidden(s_ptr, w1_ptr, b1_ptr, row, C, r_block, r_block_mask, act_alpha, ACT, BLOCK_K)
                w = tl.load(
                    w2_ptr + c[:, None] * CR + r_block[None, :],
                    mask=c_mask[:, None] & r_block_mask[None, :],
                    other=0.0,
                )
                excited += tl.sum(w.to(tl.float32) * part[None, :], axis=1)
        tl.store(g_ptr + row + c, _gate(excited, gate_alpha, gate_beta, GATE), mask=c_mask)


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
    n = tl.program_id(0).to(tl.int64)  # 64-bit: n * sxn reaches N*C*H*W, which can pass 2^31
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
    # no split along H*W: TensorRT launches one kernel, so nothing could zero ``s`` for atomic partial sums
    squeeze_kernel(x_ptr, s_ptr, C, HW, C * HW, HW, 1, 1.0 / HW, HW, False, BLOCK_C, BLOCK_HW)


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
    BLOCK_K: tl.constexpr,
    BLOCK_R: tl.constexpr,
    HIDDEN_FITS: tl.constexpr,
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
        BLOCK_K,
        BLOCK_R,
        HIDDEN_FITS,
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
