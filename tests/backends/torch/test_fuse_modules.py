"""Swapping SE modules for the fused op in PyTorch models (the op runs in Triton's interpreter on CPU)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytest.importorskip("triton")

from se_deploy.backends.torch.fuse_modules import (
    FusedResidualBlock,
    FusedSqueezeExcitation,
    fuse_se_modules,
)
from se_deploy.backends.torch.runner import TorchCudaRunner
from se_deploy.errors import InvalidArgumentError
from se_deploy.models import create_model
from tests.rewrite.styles import STYLES, count_se


def _outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def test_zoo_resnet_blocks_fold_se_residual_and_relu() -> None:
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny")
    x = torch.randn(3, 3, 32, 32)
    want = _outputs(model, x)
    report = fuse_se_modules(model)
    assert len(report.residual_fused) == 4 and report.fused == [] and report.skipped == {}
    assert sum(isinstance(m, FusedResidualBlock) for m in model.modules()) == 4
    torch.testing.assert_close(_outputs(model, x), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "residual_blocks"),
    [
        ("senet_tiny", 4),  # SENet-154's bottleneck folds like ResNet's
        ("se_resnext_tiny", 4),
        ("se_mobilenet_tiny", 0),
        ("se_bn_inception_tiny", 0),
        ("se_inception_resnet_v2_tiny", 0),  # the residual scale sits between SE and the add
        ("se_shufflenet_g3_tiny", 0),
    ],
)
def test_every_zoo_family_swaps_all_its_se_modules(name: str, residual_blocks: int) -> None:
    torch.manual_seed(0)
    model = create_model(name)
    spec_size = 75 if "inception_resnet" in name else 32
    x = torch.randn(2, 3, spec_size, spec_size)
    want = _outputs(model, x)
    se_modules = sum(type(m).__name__ == "SqueezeExcitation" for m in model.modules())
    report = fuse_se_modules(model)
    assert len(report.residual_fused) == residual_blocks and report.skipped == {}
    assert len(report.fused) + len(report.residual_fused) == se_modules
    torch.testing.assert_close(_outputs(model, x), want, atol=1e-4, rtol=1e-4)


def test_no_residual_swaps_only_the_se_modules() -> None:
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny_basic")
    x = torch.randn(2, 3, 32, 32)
    want = _outputs(model, x)
    report = fuse_se_modules(model, residual=False)
    assert len(report.fused) == 4 and report.residual_fused == []
    torch.testing.assert_close(_outputs(model, x), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("style", ["se_resnext", "efficientnet_b0", "mobilenetv3", "regnety", "linear_se"])
def test_timm_and_torchvision_style_se_modules(style: str) -> None:
    torch.manual_seed(0)
    model = STYLES[style]().eval()
    expected = count_se(model)
    x = torch.randn(2, 3, 32, 32)
    want = _outputs(model, x)
    report = fuse_se_modules(model)
    # timm-style modules whose gate is a function (not a module) cannot be read off their attributes.
    swapped = len(report.fused) + len(report.residual_fused)
    assert (
        swapped + sum(1 for m in model.modules() if type(m).__name__ == "TimmSE" and isinstance(m.gate, str))
        == expected
    )
    assert sum(isinstance(m, FusedSqueezeExcitation) for m in model.modules()) == swapped
    torch.testing.assert_close(_outputs(model, x), want, atol=1e-4, rtol=1e-4)


def test_module_that_only_looks_like_se_is_left_alone() -> None:
    class NotSE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(8, 2, 1), nn.Conv2d(2, 8, 1)
            self.act, self.gate = nn.ReLU(), nn.Sigmoid()

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # scales by the gate of the *max*, not the mean
            return x * self.gate(self.fc2(self.act(self.fc1(x.amax((2, 3), keepdim=True)))))

    model = nn.Sequential(NotSE())
    report = fuse_se_modules(model)
    assert report.fused == [] and list(report.skipped) == ["0"]
    assert isinstance(model[0], NotSE)


def test_custom_op_passes_torch_opcheck() -> None:
    x = torch.randn(2, 8, 3, 3)
    args = (
        x,
        torch.randn(2, 8),
        torch.randn(2),
        torch.randn(8, 2),
        torch.randn(8),
        torch.randn(2, 8, 3, 3),
        "relu",
        "sigmoid",
        0.01,
        1 / 6,
        0.5,
        True,
    )
    torch.library.opcheck(
        torch.ops.se_deploy.squeeze_excitation.default, args, test_utils=("test_schema", "test_faketensor")
    )


def test_gpu_runner_needs_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InvalidArgumentError, match="needs a CUDA GPU"):
        TorchCudaRunner.create(create_model("se_resnet_tiny"))
    with pytest.raises(InvalidArgumentError, match="unknown mode"):
        TorchCudaRunner.create(create_model("se_resnet_tiny"), mode="fast")


def test_cpu_runner_modes_agree() -> None:
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny")
    x = torch.randn(2, 3, 32, 32).numpy()
    eager = TorchCudaRunner.create(model, mode="eager", dtype=torch.float32, device="cpu", channels_last=False).infer(x)
    fused = TorchCudaRunner.create(model, mode="fused", dtype=torch.float32, device="cpu", channels_last=True).infer(x)
    assert abs(eager - fused).max() < 1e-4


def test_fused_model_compiles_with_torch_compile() -> None:
    """The op is one opaque node to torch.compile (its fake implementation gives the output's metadata)."""
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny")
    x = torch.randn(2, 3, 32, 32)
    want = _outputs(model, x)
    fuse_se_modules(model)
    compiled = torch.compile(model)
    torch.testing.assert_close(_outputs(compiled, x), want, atol=1e-4, rtol=1e-4)


def test_gpu_benchmark_script_smoke_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """benchmarks/gpu_se_kernels.py on the CPU with Triton's interpreter: every section's code path runs."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = os.environ | {"TRITON_INTERPRET": "1", "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gpu_se_kernels.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads((tmp_path / "gpu_se_kernels.json").read_text())
    assert max(r["max_abs_error"] for r in record["correctness"]) < 1e-2
    assert {r["mode"] for r in record["e2e"]} == {"eager", "fused"}
    assert all(r["max_abs_diff_vs_first_mode"] < 1e-4 for r in record["e2e"])
    assert (tmp_path / "gpu_se_kernels.md").exists()
