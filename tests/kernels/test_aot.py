"""The AOT half of the TensorRT plugin, without TensorRT: PTX for named GPU targets, launch plans,
and the AOT entry points' numerics (in Triton's interpreter)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

import triton

from se_deploy.kernels import se_triton
from se_deploy.kernels.aot import (
    PTX_INT32,
    PTX_POINTER,
    TARGETS,
    KernelParameterError,
    drop_unused_trailing_params,
    excite_blocks,
    launch_grid,
    launcher_params,
    ptx_params,
)
from se_deploy.kernels.ops import reference

STAGES = ("squeeze", "excite", "scale", "scale_residual")


_COMPILE_ALL = r"""
import json, re, subprocess, tempfile
from pathlib import Path
from triton.backends.nvidia.compiler import get_ptxas
from se_deploy.kernels.aot import TARGETS, compile_stage, ptx_entry_names, ptx_params, ptx_target

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
print(json.dumps(rows))
"""


@pytest.fixture(scope="module")
def compiled_rows() -> list[list[object]]:
    """Every stage x dtype x target compiled, in a child process: AOT compilation needs real (not
    interpreted) Triton kernels. Each PTX is also assembled with Triton's ptxas (no GPU needed)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TRITON_DEFAULT_FP_FUSION": "1",
    }
    proc = subprocess.run([sys.executable, "-c", _COMPILE_ALL], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


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


def test_launch_grids_and_blocks() -> None:
    assert launch_grid("squeeze", 8, 2048, 49) == (8, 128, 1)
    assert launch_grid("excite", 8, 2048, 49) == (8, 1, 1)
    assert launch_grid("scale_residual", 2, 33, 3136) == (2, 3, 25)
    assert excite_blocks(128) == {"BLOCK_C": 64, "BLOCK_R": 128}
    assert excite_blocks(1) == {"BLOCK_C": 64, "BLOCK_R": 2}
    with pytest.raises(ValueError):
        launch_grid("gate", 1, 1, 1)


def test_aot_entry_points_compute_the_op() -> None:
    n, c, h, w, r = 2, 33, 7, 5, 6
    g = torch.Generator().manual_seed(0)
    x, res = torch.randn(n, c, h, w, generator=g), torch.randn(n, c, h, w, generator=g)
    w1, b1, w2, b2 = (torch.randn(*s, generator=g) for s in ((r, c), (r,), (c, r), (c,)))
    squeezed, gates, y = torch.empty(n, c), torch.empty(n, c), torch.empty_like(x)
    se_triton.se_squeeze_aot[launch_grid("squeeze", n, c, h * w)](x, c, h * w, squeezed, BLOCK_C=16, BLOCK_HW=128)
    se_triton.se_excite_aot[launch_grid("excite", n, c, h * w)](
        squeezed,
        w1,
        b1,
        w2,
        b2,
        c,
        r,
        gates,
        ACT=0,
        GATE=0,
        ACT_ALPHA=0.01,
        GATE_ALPHA=1 / 6,
        GATE_BETA=0.5,
        **excite_blocks(r),
    )
    se_triton.se_scale_residual_aot[launch_grid("scale_residual", n, c, h * w)](
        x, gates, res, c, h * w, y, RESIDUAL_RELU=True, BLOCK_C=16, BLOCK_HW=128
    )
    torch.testing.assert_close(y, reference(x, w1, b1, w2, b2, res), atol=1e-5, rtol=1e-5)
    assert triton.cdiv(h * w, 128) == 1
