"""The PyTorch backend, as the registry sees it: a runner-only backend (it builds and loads no artifact).

``bench`` runs zoo modules on it: ``cuda`` (``--backend torch``: FP16, CUDA graphs, the fused Triton SE
beside the same model unfused) or ``eager`` / ``compile`` (the CPU FP32 peers). torch is imported when
runners are made.
"""

from __future__ import annotations

from typing import Any

from se_deploy.backends.base import FUSED, STOCK, TWIN, Backend, Runner


def _unavailable() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "the fused PyTorch runtime runs on a CUDA GPU; none is visible here"
    return None  # pragma: no cover - needs a GPU


def _module_runners(model: Any, twin: Any, mode: str) -> dict[tuple[str, str, str], Runner]:
    """Runners keyed like the bench's (backend, variant, precision) for ``mode``: cuda, eager or compile."""
    from se_deploy.backends.torch.runner import TorchCpuRunner, TorchCudaRunner

    if mode == "cuda":  # pragma: no cover - needs a GPU
        return {
            ("torch-cuda", STOCK, "fp16"): TorchCudaRunner.create(model, mode="cuda_graph"),
            ("torch-cuda", FUSED, "fp16"): TorchCudaRunner.create(model, mode="fused"),
            ("torch-cuda", TWIN, "fp16"): TorchCudaRunner.create(twin, mode="cuda_graph"),
        }
    compiled = mode == "compile"
    name = "torch-compile" if compiled else "torch-eager"
    return {
        (name, STOCK, "fp32"): TorchCpuRunner(model, compiled=compiled),
        (name, TWIN, "fp32"): TorchCpuRunner(twin, compiled=compiled),
    }


BACKEND = Backend(
    name="torch",
    summary="PyTorch modules: the fused-SE CUDA runtime (bench --backend torch) and the CPU peers",
    unavailable=_unavailable,
    module_runners=_module_runners,
)
