"""Launch plans of the SE kernels (block sizes, programs, grids), shared by the PyTorch op
(``kernels/ops.py``) and the TensorRT AOT plugins (``backends/tensorrt/``).

Plain integer arithmetic: no Triton or GPU needed.
"""

from __future__ import annotations

# Block sizes for linear NCHW (TensorRT's LINEAR format): coalesced along H*W.
SQUEEZE_BLOCK_HW = 128
SCALE_BLOCKS = {"BLOCK_C": 16, "BLOCK_HW": 128}
EXCITE_BLOCK_C = 64
EXCITE_LOOP_BLOCK_R = 64  # hidden units per step when the hidden width is unknown when compiling
# Programs a launch should have at least, so that batch 1 fills a GPU: twice an H100's 132 SMs.
MIN_PROGRAMS = 264
# Triton's CPU interpreter runs programs one after another: the PyTorch path aims at a few there (the tests
# still see split squeezes and several excite programs per image on their small shapes).
INTERPRETER_MIN_PROGRAMS = 4
EXCITE_L2_BUDGET = 32 << 20  # bytes of W1 the excite's programs may read together (an H100 has 50 MiB of L2)


def _pow2_at_most(value: int) -> int:
    return 1 << (max(1, value).bit_length() - 1)


def squeeze_blocks(channels: int, min_programs: int = MIN_PROGRAMS) -> dict[str, int]:
    """Channels per squeeze program: few enough that one image gives >= MIN_PROGRAMS programs (C >= 264
    gives at least 264; fewer channels give one program each), at most 16."""
    return {"BLOCK_C": min(16, _pow2_at_most(channels // min_programs)), "BLOCK_HW": SQUEEZE_BLOCK_HW}


def squeeze_splits(programs: int, hw: int, block_hw: int, min_programs: int = MIN_PROGRAMS) -> int:
    """H*W splits for a squeeze of ``programs`` (image, channel block) programs: up to MIN_PROGRAMS in all
    (the split needs a zeroed output for its atomic partial sums: the PyTorch path only, not TensorRT's)."""
    return max(1, min(cdiv(min_programs, programs), cdiv(hw, block_hw)))


def excite_blocks(reduced: int | None, channels: int = 256, min_programs: int = MIN_PROGRAMS) -> dict[str, int | bool]:
    """Excite block sizes: output channels per block (BLOCK_C: one image gives up to MIN_PROGRAMS blocks),
    FC1 input channels per step (BLOCK_K), and the hidden layer in one block when its width is known
    (BLOCK_R its next power of two; any width), else a loop over hidden blocks (HIDDEN_FITS False)."""
    block_c = min(EXCITE_BLOCK_C, _pow2_at_most(channels // min_programs))
    if reduced is None:
        return {"BLOCK_C": block_c, "BLOCK_K": EXCITE_BLOCK_C, "BLOCK_R": EXCITE_LOOP_BLOCK_R, "HIDDEN_FITS": False}
    block_r = 2
    while block_r < reduced:
        block_r *= 2
    block_k = max(2, min(EXCITE_BLOCK_C, 8192 // block_r))
    return {"BLOCK_C": block_c, "BLOCK_K": block_k, "BLOCK_R": block_r, "HIDDEN_FITS": True}


def excite_program_cap(channels: int, reduced: int | None, itemsize: int, block_c: int) -> int:
    """Most programs per image: one per output block, and W1 re-read from L2 by all of them within
    EXCITE_L2_BUDGET bytes (each program computes the hidden layer itself)."""
    w1_bytes = channels * (reduced or EXCITE_LOOP_BLOCK_R) * itemsize
    return max(1, min(cdiv(channels, block_c), EXCITE_L2_BUDGET // max(1, w1_bytes)))


def excite_programs(n: int, cap: int, min_programs: int = MIN_PROGRAMS) -> int:
    """Programs per image for the excite: ``min_programs`` in all where the cap allows."""
    return max(1, min(cdiv(min_programs, n), cap))


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def launch_grid(
    stage: str, n: int, c: int, hw: int, reduced: int | None = 16, itemsize: int = 2
) -> tuple[int, int, int]:
    """The grid each stage needs for an N x C x (H*W) activation (concrete numbers)."""
    if stage == "squeeze":
        return n, cdiv(c, int(squeeze_blocks(c)["BLOCK_C"])), 1
    if stage == "excite":
        block_c = int(excite_blocks(reduced, c)["BLOCK_C"])
        return n, excite_programs(n, excite_program_cap(c, reduced, itemsize, block_c)), 1
    if stage in ("scale", "scale_residual"):
        return n, cdiv(c, SCALE_BLOCKS["BLOCK_C"]), cdiv(hw, SCALE_BLOCKS["BLOCK_HW"])
    raise ValueError(f"unknown stage {stage!r}")
