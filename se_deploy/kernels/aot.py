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
SQUEEZE_BLOCKS = {"BLOCK_C": 16, "BLOCK_HW": 128}
SCALE_BLOCKS = {"BLOCK_C": 16, "BLOCK_HW": 128}
EXCITE_BLOCK_C = 64


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


def excite_blocks(reduced: int) -> dict[str, int]:
    block_r = 2
    while block_r < reduced:
        block_r *= 2
    return {"BLOCK_C": max(2, min(EXCITE_BLOCK_C, 8192 // block_r)), "BLOCK_R": block_r}


def kernel_spec(
    stage: str,
    dtype: str,
    *,
    reduced: int = 16,
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
        return k.se_squeeze_aot, {"x_ptr": f"*{t}", "C": "i32", "HW": "i32", "s_ptr": "*fp32"}, dict(SQUEEZE_BLOCKS)
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
            **excite_blocks(reduced),
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
    return CompiledKernel(
        compiled.name, compiled.asm["ptx"], compiled.metadata.num_warps, compiled.metadata.shared, target
    )


def ptx_entry_names(ptx: str) -> list[str]:
    return re.findall(r"\.entry\s+(\w+)\(", ptx)


def ptx_target(ptx: str) -> str | None:
    found = re.search(r"\.target\s+(\w+)", ptx)
    return found.group(1) if found else None


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def launch_grid(stage: str, n: int, c: int, hw: int) -> tuple[int, int, int]:
    """The grid each stage needs for an N x C x (H*W) activation (concrete numbers)."""
    if stage == "squeeze":
        return n, cdiv(c, SQUEEZE_BLOCKS["BLOCK_C"]), 1
    if stage == "excite":
        return n, 1, 1
    if stage in ("scale", "scale_residual"):
        return n, cdiv(c, SCALE_BLOCKS["BLOCK_C"]), cdiv(hw, SCALE_BLOCKS["BLOCK_HW"])
    raise ValueError(f"unknown stage {stage!r}")
