"""The AOT half of the TensorRT plugin, without TensorRT: PTX for named GPU targets, launch plans,
and the AOT entry points' numerics (in Triton's interpreter)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")


from se_deploy.backends.tensorrt.aot import (
    PTX_INT32,
    PTX_POINTER,
    TARGETS,
    KernelParameterError,
    drop_unused_trailing_params,
    launcher_params,
    ptx_params,
)
from se_deploy.kernels import se_triton
from se_deploy.kernels.launch import EXCITE_L2_BUDGET, MIN_PROGRAMS, cdiv, excite_blocks, launch_grid, squeeze_blocks
from se_deploy.kernels.ops import reference

STAGES = ("squeeze", "excite", "scale", "scale_residual")


_COMPILE_ALL = r"""
import json, re, subprocess, tempfile
from pathlib import Path
from triton.backends.nvidia.compiler import get_ptxas
from se_deploy.backends.tensorrt.aot import TARGETS, compile_stage, ptx_entry_names, ptx_params, ptx_target

def kparam_sizes(ptx, arch, capability):
    # assemble with Triton's own ptxas and read the cubin's parameter table (what the CUDA driver copies)
    ptxas = get_ptxas(capability).path
    cuobjdump = str(Path(ptxas).parent / "cuobjdump")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.ptx").write_text(ptx)
        subprocess.run([ptxas, f"-arch={arch}", f"{tmp}/k.ptx", "-o", f"{tmp}/k.cubin"], check=True, capture_output=True)
        elf = subprocess.run([cuobjdump, "-elf", f"{tmp}/k.cubin"], check=True, capture_output=True, text=True).stdout
    found = re.findall(r"Ordinal\s*:\s*0x([0-9a-f]+)\s+Offset\s*:\s*0x[0-9a-f]+\s+Size\s*:\s*0x([0-9a-f]+)", elf)
    return [size for _, size in sorted((int(o, 16), int(s, 16)) for o, s in found)]

rows = []
for target, capability in TARGETS.items():
    for stage in ("squeeze", "excite", "scale", "scale_residual"):
        for dtype in ("float16", "float32"):
            k = compile_stage(stage, dtype, target, reduced=64, activation="silu", gate="hard_sigmoid")
            params = [kind for kind, _ in ptx_params(k.ptx, k.name)]
            arch = ptx_target(k.ptx)
            rows.append([target, stage, dtype, k.name, ptx_entry_names(k.ptx), arch, k.block_x, k.shared_bytes,
                         params, kparam_sizes(k.ptx, arch, capability)])
import triton
from triton.backends.compiler import GPUTarget
from se_deploy.backends.tensorrt.aot import kernel_spec
ttir = {}
for stage in ("squeeze", "excite", "scale", "scale_residual"):
    fn, signature, constexprs = kernel_spec(stage, "float16", channels=256, reduced=64)
    source = triton.compiler.ASTSource(fn=fn, signature=signature | {k: "constexpr" for k in constexprs}, constexprs=constexprs)
    ttir[stage] = triton.compile(source, target=GPUTarget("cuda", 90, 32)).asm["ttir"]
print(json.dumps({"rows": rows, "ttir": ttir}))
"""


@pytest.fixture(scope="module")
def compiled() -> dict[str, object]:
    """Every stage x dtype x target compiled, in a child process: AOT compilation needs real (not
    interpreted) Triton kernels. Each PTX is also assembled with Triton's ptxas (no GPU needed)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        "TRITON_DEFAULT_FP_FUSION": "1",
    }
    proc = subprocess.run([sys.executable, "-c", _COMPILE_ALL], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compiled_rows(compiled: dict[str, object]) -> list[list[object]]:
    return compiled["rows"]  # type: ignore[return-value]


def test_image_offsets_are_64_bit_in_the_compiled_kernels(compiled: dict[str, str]) -> None:
    """N*C*H*W passes 2^31 at batch >= 2,675 for 256x56x56: each kernel widens the image index (program
    id x) to i64 before multiplying it by the image stride, and offsets its first pointer with that i64."""
    import re

    for stage, ttir in compiled["ttir"].items():  # type: ignore[union-attr]
        pid = re.search(r"(%[\w.]+) = tt.get_program_id x : i32", ttir)
        assert pid, stage
        wide = re.search(rf"(%[\w.]+) = arith.extsi {re.escape(pid.group(1))} : i32 to i64", ttir)
        assert wide, f"{stage}: the image index is not widened to 64 bits"
        product = re.search(rf"(%[\w.]+) = arith.muli {re.escape(wide.group(1))}, %[\w.]+ : i64", ttir)
        assert product, f"{stage}: no 64-bit image offset"
        first_pointer = "%s_ptr" if stage == "excite" else "%x_ptr"
        assert re.search(rf"tt.addptr {first_pointer}, %[\w.]+ : !tt.ptr<\w+>, i64", ttir), stage


def test_every_stage_compiles_to_ptx_for_every_target(compiled_rows: list[list[object]]) -> None:
    assert len(compiled_rows) == len(TARGETS) * len(STAGES) * 2
    for target, stage, _dtype, name, entries, ptx_arch, block_x, shared, *_ in compiled_rows:
        assert entries == [name] and name == f"se_{stage}_aot"
        assert ptx_arch.startswith(target)  # sm_90 compiles as sm_90a
        assert block_x in (32, 64, 128, 256, 512, 1024) and shared >= 0


def test_kernel_parameters_are_exactly_what_tensorrt_passes(compiled_rows: list[list[object]]) -> None:
    """TensorRT's AOT launcher passes input pointers, int32 extras, output pointers, and nothing else.
    Triton 3.9 appends two scratch pointers to every kernel; the shipped PTX has them removed (unused:
    no scratch memory, never read), and the assembled kernel's parameter table agrees: 8-byte pointers
    and 4-byte ints, in the launcher's order."""
    sizes = {PTX_POINTER: 8, PTX_INT32: 4}
    for target, stage, dtype, _name, _e, _a, _b, _s, params, kparams in compiled_rows:
        expected = launcher_params(stage)
        assert params == expected, (target, stage, dtype)
        assert kparams == [sizes[p] for p in expected], (target, stage, dtype)


def test_appended_parameters_are_dropped_only_when_unused() -> None:
    ptx = (
        ".visible .entry k(\n\t.param .u64 .ptr .global .align 1 k_param_0,\n\t.param .u32 k_param_1,\n"
        "\t.param .u64 .ptr .global .align 1 k_param_2\n)\n{\n\tld.param.u64 %rd1, [k_param_0];\n"
        "\tld.param.u32 %r1, [k_param_1];\n}\n"
    )
    assert [p for _, p in ptx_params(drop_unused_trailing_params(ptx, "k", keep=2, scratch_bytes=0), "k")] == [
        "k_param_0",
        "k_param_1",
    ]
    with pytest.raises(KernelParameterError, match="scratch memory"):
        drop_unused_trailing_params(ptx, "k", keep=2, scratch_bytes=128)
    with pytest.raises(KernelParameterError, match="reads the appended"):
        drop_unused_trailing_params(ptx, "k", keep=1, scratch_bytes=0)
    assert drop_unused_trailing_params(ptx, "k", keep=3, scratch_bytes=0) == ptx


SE_RESNET50_WIDTHS = [(256, 16, 3136), (512, 32, 784), (1024, 64, 196), (2048, 128, 49)]  # (C, C/16, H*W)


@pytest.mark.parametrize(("c", "r", "hw"), SE_RESNET50_WIDTHS)
def test_batch_one_spreads_over_an_h100(c: int, r: int, hw: int) -> None:
    """At batch 1 the squeeze has >= 256 programs and the excite up to MIN_PROGRAMS (fewer only where
    every program re-reading W1 would pass the L2 budget); scale was already one program per tile."""
    assert launch_grid("squeeze", 1, c, hw)[1] >= 256
    programs = launch_grid("excite", 1, c, hw, r)[1]
    assert programs == min(MIN_PROGRAMS, cdiv(c, int(excite_blocks(r, c)["BLOCK_C"])), EXCITE_L2_BUDGET // (c * r * 2))
    assert programs >= (132 if c <= 1024 else 64)
    assert launch_grid("excite", 512, c, hw, r)[1] == 1  # large batches: no recomputed hidden layers
    squeeze_c = int(squeeze_blocks(c)["BLOCK_C"])
    assert launch_grid("squeeze", 8, c, hw) == (8, cdiv(c, squeeze_c), 1)


def test_launch_grids_and_blocks() -> None:
    assert launch_grid("scale_residual", 2, 33, 3136) == (2, 3, 25)
    assert excite_blocks(128, 2048) == {"BLOCK_C": 4, "BLOCK_K": 64, "BLOCK_R": 128, "HIDDEN_FITS": True}
    assert excite_blocks(1, 256) == {"BLOCK_C": 1, "BLOCK_K": 64, "BLOCK_R": 2, "HIDDEN_FITS": True}
    assert excite_blocks(None, 256)["HIDDEN_FITS"] is False
    with pytest.raises(ValueError):
        launch_grid("gate", 1, 1, 1)


def _run_aot(n: int, c: int, h: int, w: int, r: int, dtype: torch.dtype, *, hidden_known: bool, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    x, res = torch.randn(n, c, h, w, generator=g).to(dtype), torch.randn(n, c, h, w, generator=g).to(dtype)
    w1, b1, w2, b2 = (torch.randn(*s, generator=g).mul(0.5).to(dtype) for s in ((r, c), (r,), (c, r), (c,)))
    squeezed, gates, y = torch.empty(n, c), torch.empty(n, c), torch.empty_like(x)
    se_triton.se_squeeze_aot[launch_grid("squeeze", n, c, h * w)](x, c, h * w, squeezed, **squeeze_blocks(c))
    width = r if hidden_known else None
    blocks = excite_blocks(width, c)
    if not hidden_known:
        blocks["BLOCK_R"] = 16  # narrower than the hidden layer: the kernel must loop, not drop units
        assert r > 16
    grid = launch_grid("excite", n, c, h * w, width, x.element_size())
    se_triton.se_excite_aot[grid](
        squeezed, w1, b1, w2, b2, c, r, gates,
        ACT=1, GATE=0, ACT_ALPHA=0.01, GATE_ALPHA=1 / 6, GATE_BETA=0.5, **blocks,
    )  # fmt: skip
    se_triton.se_scale_residual_aot[launch_grid("scale_residual", n, c, h * w)](
        x, gates, res, c, h * w, y, RESIDUAL_RELU=True, BLOCK_C=16, BLOCK_HW=128
    )
    want = reference(x.float(), w1.float(), b1.float(), w2.float(), b2.float(), res.float(), activation="silu")
    tolerance = 2e-2 if dtype == torch.float16 else 1e-5
    torch.testing.assert_close(y.float(), want, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_aot_entry_points_compute_the_op(dtype: torch.dtype) -> None:
    _run_aot(2, 33, 7, 5, 6, dtype, hidden_known=True)
    _run_aot(1, 20, 3, 3, 5, dtype, hidden_known=True)  # batch 1: several excite programs per image


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_excite_with_a_hidden_layer_wider_than_its_block(dtype: torch.dtype) -> None:
    """The fallback for a hidden width unknown when compiling loops over hidden blocks: 70 hidden units
    through 16-wide blocks, all of them counted (the old fallback kept 1024 and dropped the rest)."""
    assert launch_grid("excite", 1, 12, 9, None)[1] > 1
    _run_aot(1 if dtype == torch.float32 else 2, 12, 3, 3, 70, dtype, hidden_known=False, seed=1)
