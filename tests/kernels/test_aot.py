"""The AOT half of the TensorRT plugin, without TensorRT: PTX for named GPU targets, launch plans,
and the AOT entry points' numerics (in Triton's interpreter)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

import triton

from se_deploy.kernels import se_triton
from se_deploy.kernels.aot import TARGETS, excite_blocks, launch_grid
from se_deploy.kernels.ops import reference

STAGES = ("squeeze", "excite", "scale", "scale_residual")


_COMPILE_ALL = """
import json
from se_deploy.kernels.aot import TARGETS, compile_stage, ptx_entry_names, ptx_target
rows = []
for target in TARGETS:
    for stage in ("squeeze", "excite", "scale", "scale_residual"):
        for dtype in ("float16", "float32"):
            k = compile_stage(stage, dtype, target, reduced=64, activation="silu", gate="hard_sigmoid")
            rows.append([target, stage, dtype, k.name, ptx_entry_names(k.ptx), ptx_target(k.ptx), k.block_x, k.shared_bytes])
print(json.dumps(rows))
"""


def test_every_stage_compiles_to_ptx_for_every_target() -> None:
    """Compiled in a child process: AOT compilation needs real (not interpreted) Triton kernels."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TRITON_DEFAULT_FP_FUSION": "1",
    }
    proc = subprocess.run([sys.executable, "-c", _COMPILE_ALL], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(rows) == len(TARGETS) * len(STAGES) * 2
    for target, stage, _dtype, name, entries, ptx_arch, block_x, shared in rows:
        assert entries == [name] and name == f"se_{stage}_aot"
        assert ptx_arch.startswith(target)  # sm_90 compiles as sm_90a
        assert block_x in (32, 64, 128, 256, 512, 1024) and shared >= 0


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
