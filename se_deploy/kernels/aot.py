"""Ahead-of-time compilation of the SE kernels to PTX, and their launch plans, for TensorRT AOT plugins.

Works without a GPU: Triton compiles for a named target (``GPUTarget("cuda", 90, 32)``). The launch
plan (grid, block, shared memory, extra int32 arguments) is what ``aot_impl`` hands TensorRT; it is
computed here from concrete shapes for tests, and from TensorRT's symbolic shapes in the plugin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from se_deploy.kernels.se_triton import ACTIVATION_CODES, GATE_CODES

TARGETS: dict[str, int] = {"sm_80": 80, "sm_86": 86, "sm_89": 89, "sm_90": 90}
DTYPES: dict[str, str] = {"float32": "fp32", "float16": "fp16"}
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


# TensorRT's AOT launcher passes, in order: the plugin's input pointers, the int32 scalars ``aot_impl``
# returns ("extra args", placed after the inputs and before the outputs), the output pointers; nothing
# else (NVIDIA's tensorrt.plugin: SymInt32 extras only). Per stage: (inputs, int32 extras, outputs).
LAUNCHER_ARGS: dict[str, tuple[int, int, int]] = {
    "squeeze": (1, 2, 1),  # X; C, HW; S
    "excite": (5, 2, 1),  # S, W1, B1, W2, B2; C, CR; G
    "scale": (2, 2, 1),  # X, G; C, HW; Y
    "scale_residual": (3, 2, 1),  # X, G, R; C, HW; Y
}
PTX_POINTER, PTX_INT32 = ".u64 .ptr", ".u32"


class KernelParameterError(ValueError):
    """The compiled kernel's parameters are not what TensorRT's AOT launcher passes."""


@dataclass(frozen=True)
class CompiledKernel:
    name: str
    ptx: str
    num_warps: int
    shared_bytes: int
    target: str

    @property
    def block_x(self) -> int:
        return self.num_warps * 32


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


def kernel_spec(
    stage: str,
    dtype: str,
    *,
    channels: int = 256,
    reduced: int | None = 16,
    activation: str = "relu",
    gate: str = "sigmoid",
    activation_alpha: float = 0.01,
    gate_alpha: float = 1 / 6,
    gate_beta: float = 0.5,
    residual_relu: bool = True,
) -> tuple[object, dict[str, str], dict[str, object]]:
    """(kernel, signature, constexprs) for one stage: squeeze, excite, scale or scale_residual."""
    from se_deploy.kernels import se_triton as k

    t = DTYPES[dtype]
    if stage == "squeeze":
        signature = {"x_ptr": f"*{t}", "C": "i32", "HW": "i32", "s_ptr": "*fp32"}
        return k.se_squeeze_aot, signature, squeeze_blocks(channels)
    if stage == "excite":
        signature = {
            "s_ptr": "*fp32",
            "w1_ptr": f"*{t}",
            "b1_ptr": f"*{t}",
            "w2_ptr": f"*{t}",
            "b2_ptr": f"*{t}",
            "C": "i32",
            "CR": "i32",
            "g_ptr": "*fp32",
        }
        constexprs = {
            "ACT": ACTIVATION_CODES[activation],
            "GATE": GATE_CODES[gate],
            "ACT_ALPHA": float(activation_alpha),
            "GATE_ALPHA": float(gate_alpha),
            "GATE_BETA": float(gate_beta),
            **excite_blocks(reduced, channels),
        }
        return k.se_excite_aot, signature, constexprs
    if stage == "scale":
        return (
            k.se_scale_aot,
            {"x_ptr": f"*{t}", "g_ptr": "*fp32", "C": "i32", "HW": "i32", "y_ptr": f"*{t}"},
            dict(SCALE_BLOCKS),
        )
    if stage == "scale_residual":
        signature = {"x_ptr": f"*{t}", "g_ptr": "*fp32", "r_ptr": f"*{t}", "C": "i32", "HW": "i32", "y_ptr": f"*{t}"}
        return k.se_scale_residual_aot, signature, {"RESIDUAL_RELU": bool(residual_relu), **SCALE_BLOCKS}
    raise ValueError(f"unknown stage {stage!r}")


def compile_stage(stage: str, dtype: str, target: str = "sm_90", **attributes: object) -> CompiledKernel:
    """PTX for one stage on ``target`` (no GPU needed)."""
    return _compile(stage, dtype, target, tuple(sorted(attributes.items())))


@cache
def _compile(stage: str, dtype: str, target: str, attributes: tuple[tuple[str, object], ...]) -> CompiledKernel:
    import triton
    from triton.backends.compiler import GPUTarget

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    kernel, signature, constexprs = kernel_spec(stage, dtype, **dict(attributes))  # type: ignore[arg-type]
    signature = signature | {name: "constexpr" for name in constexprs}
    source = triton.compiler.ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
    compiled = triton.compile(source, target=GPUTarget("cuda", TARGETS[target], 32))
    metadata = compiled.metadata
    user_params = sum(kind != "constexpr" for kind in signature.values())
    ptx = drop_unused_trailing_params(
        compiled.asm["ptx"],
        compiled.name,
        keep=user_params,
        scratch_bytes=getattr(metadata, "global_scratch_size", 0) + getattr(metadata, "profile_scratch_size", 0),
    )
    return CompiledKernel(compiled.name, ptx, metadata.num_warps, metadata.shared, target)


def _entry(ptx: str, name: str) -> re.Match[str]:
    found = re.search(rf"\.entry\s+{re.escape(name)}\s*\((.*?)\)", ptx, re.S)
    if found is None:
        raise KernelParameterError(f"no .entry {name} in the PTX")
    return found


def ptx_params(ptx: str, name: str) -> list[tuple[str, str]]:
    """The ``.entry``'s parameters as (type, name), e.g. (".u64 .ptr", "k_param_0"), (".u32", "k_param_1")."""
    params = []
    for declaration in _entry(ptx, name).group(1).split(","):
        words = declaration.split()
        if not words:
            continue
        kind = PTX_POINTER if ".ptr" in words else " ".join(w for w in words[1:-1] if not w.startswith(".align"))
        kind = kind if kind == PTX_POINTER else words[1]
        params.append((kind, words[-1]))
    return params


def launcher_params(stage: str) -> list[str]:
    """The parameter types TensorRT's AOT launcher passes to ``stage``'s kernel, in order."""
    inputs, extras, outputs = LAUNCHER_ARGS[stage]
    return [PTX_POINTER] * inputs + [PTX_INT32] * extras + [PTX_POINTER] * outputs


def drop_unused_trailing_params(ptx: str, name: str, *, keep: int, scratch_bytes: int) -> str:
    """``ptx`` with the ``.entry``'s parameters after the first ``keep`` removed.

    Triton >= 3.3 appends pointer parameters (global scratch, and since 3.5 profile scratch) that its own
    launcher fills and TensorRT's AOT launcher does not pass. They are dropped only when the kernel cannot
    need them: no scratch memory asked for, and the PTX body never reads them; otherwise this refuses.
    """
    params = ptx_params(ptx, name)
    extra = params[keep:]
    if not extra:
        return ptx
    if scratch_bytes:
        raise KernelParameterError(
            f"{name} needs {scratch_bytes} bytes of Triton scratch memory, which TensorRT's AOT launcher cannot pass"
        )
    used = [p for _, p in extra if len(re.findall(rf"\b{re.escape(p)}\b", ptx)) > 1]
    if used:
        raise KernelParameterError(f"{name} reads the appended parameters {', '.join(used)}; cannot drop them")
    entry = _entry(ptx, name)
    kept = [d for d in entry.group(1).split(",") if d.split() and d.split()[-1] not in {p for _, p in extra}]
    return ptx[: entry.start(1)] + ",".join(kept) + "\n" + ptx[entry.end(1) :]


def ptx_entry_names(ptx: str) -> list[str]:
    return re.findall(r"\.entry\s+(\w+)\(", ptx)


def ptx_target(ptx: str) -> str | None:
    found = re.search(r"\.target\s+(\w+)", ptx)
    return found.group(1) if found else None


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
