"""Ahead-of-time compilation of the SE kernels to PTX for TensorRT AOT plugins, and the calling
convention of TensorRT's AOT launcher (what the compiled kernels' parameters must be).

Works without a GPU: Triton compiles for a named target (``GPUTarget("cuda", 90, 32)``). The launch
plan (grid, block, shared memory, extra int32 arguments) is what ``aot_impl`` hands TensorRT; block
sizes and grids come from ``kernels/launch.py`` (concrete shapes, for the tests and the PyTorch op),
and from TensorRT's symbolic shapes in the plugin. The excite kernel's variant constexprs come from
the SE variant table (``SEVariant.triton_constexprs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from se_deploy.kernels.launch import SCALE_BLOCKS, excite_blocks, squeeze_blocks
from se_deploy.se_variants import DEFAULT_VARIANT, SEVariant

TARGETS: dict[str, int] = {"sm_80": 80, "sm_86": 86, "sm_89": 89, "sm_90": 90}
DTYPES: dict[str, str] = {"float32": "fp32", "float16": "fp16"}
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


def kernel_spec(
    stage: str,
    dtype: str,
    *,
    channels: int = 256,
    reduced: int | None = 16,
    variant: SEVariant = DEFAULT_VARIANT,
) -> tuple[object, dict[str, str], dict[str, object]]:
    """(kernel, signature, constexprs) for one stage: squeeze, excite, scale or scale_residual.

    ``variant`` gives the excite's constexprs and scale_residual's RESIDUAL_RELU."""
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
        constexprs = variant.triton_constexprs() | excite_blocks(reduced, channels)
        return k.se_excite_aot, signature, constexprs
    if stage == "scale":
        return (
            k.se_scale_aot,
            {"x_ptr": f"*{t}", "g_ptr": "*fp32", "C": "i32", "HW": "i32", "y_ptr": f"*{t}"},
            dict(SCALE_BLOCKS),
        )
    if stage == "scale_residual":
        signature = {"x_ptr": f"*{t}", "g_ptr": "*fp32", "r_ptr": f"*{t}", "C": "i32", "HW": "i32", "y_ptr": f"*{t}"}
        return k.se_scale_residual_aot, signature, {"RESIDUAL_RELU": variant.residual_relu, **SCALE_BLOCKS}
    raise ValueError(f"unknown stage {stage!r}")


def compile_stage(stage: str, dtype: str, target: str = "sm_90", **attributes: object) -> CompiledKernel:
    """PTX for one stage on ``target`` (no GPU needed).

    ``attributes``: ``channels`` and ``reduced`` (block sizes), the rest ``SEVariant`` fields (the plugin
    node's attributes, e.g. ``activation="silu"``)."""
    return _compile(stage, dtype, target, tuple(sorted(attributes.items())))


@cache
def _compile(stage: str, dtype: str, target: str, attributes: tuple[tuple[str, object], ...]) -> CompiledKernel:
    import triton
    from triton.backends.compiler import GPUTarget

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    sizes = {k: v for k, v in attributes if k in ("channels", "reduced")}
    variant = SEVariant(**{k: v for k, v in attributes if k not in sizes})  # type: ignore[arg-type]
    kernel, signature, constexprs = kernel_spec(stage, dtype, variant=variant, **sizes)  # type: ignore[arg-type]
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
