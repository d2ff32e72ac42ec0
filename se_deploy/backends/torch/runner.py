"""Run a PyTorch module behind the Runner life cycle: on the CPU as users would, or the fast way on a GPU.

``TorchCpuRunner(module, compiled=...)``: FP32, inference mode, eager or ``torch.compile`` (bench peers).
``TorchCudaRunner.create(model, mode=...)``: FP16, channels-last, one CUDA graph per batch size; modes
``eager``, ``cuda_graph``, ``compile`` (torch.compile max-autotune), or ``fused`` (SE modules swapped for
the Triton op, then CUDA graphs). Both take and return numpy arrays, checked like every runner's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from se_deploy.backends.base import Runner
from se_deploy.backends.torch.fuse_modules import SwapReport, fuse_se_modules
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_spec import InputSpec

MODES: tuple[str, ...] = ("eager", "cuda_graph", "compile", "fused")
# A zoo module says nothing of its input size: any float32 (N, 3, H, W) image batch.
IMAGE_BATCH = InputSpec("input", np.dtype(np.float32), (None, 3, None, None), 1, None)


class TorchCpuRunner(Runner):
    """A PyTorch module in inference mode on the CPU, FP32 (eager, or ``torch.compile``)."""

    def __init__(self, module: nn.Module, *, compiled: bool = False, input_spec: InputSpec = IMAGE_BATCH) -> None:
        self.module = torch.compile(module.eval()) if compiled else module.eval()
        self.input_spec = input_spec

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(batch)).numpy()


class TorchCudaRunner(Runner):
    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        dtype: torch.dtype,
        channels_last: bool,
        swap: SwapReport | None = None,
        input_spec: InputSpec = IMAGE_BATCH,
    ) -> None:
        self.input_spec = input_spec
        self._forward = forward
        self.device, self.dtype, self.channels_last = device, dtype, channels_last
        self.swap = swap
        self._graphs: dict[tuple[int, ...], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.use_graphs = False

    @classmethod
    def create(
        cls,
        model: nn.Module,
        *,
        mode: str = "fused",
        dtype: torch.dtype = torch.float16,
        device: str = "cuda",
        channels_last: bool = True,
    ) -> TorchCudaRunner:
        if mode not in MODES:
            raise InvalidArgumentError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        target = torch.device(device)
        if target.type == "cuda" and not torch.cuda.is_available():
            raise InvalidArgumentError("the PyTorch GPU runtime needs a CUDA GPU; none is visible to torch here")
        model = copy.deepcopy(model).eval()
        swap = fuse_se_modules(model) if mode == "fused" else None
        model = model.to(device=target, dtype=dtype)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        forward: Callable[[torch.Tensor], torch.Tensor] = model
        if mode == "compile":
            forward = torch.compile(model, mode="max-autotune")
        runner = cls(forward, target, dtype, channels_last, swap)
        runner.use_graphs = mode in ("cuda_graph", "fused") and target.type == "cuda"
        return runner

    def _prepare(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(batch).to(device=self.device, dtype=self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @torch.inference_mode()
    def infer_tensor(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_graphs:
            return self._forward(x)
        key = tuple(x.shape)
        if key not in self._graphs:
            static_in = x.clone()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):  # warm up outside the graph (allocations, autotuning, lazy init)
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self._forward(static_in)
            self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = self._graphs[key]
        static_in.copy_(x)
        graph.replay()
        return static_out

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = self.infer_tensor(self._prepare(batch))
        return out.float().cpu().numpy()

    def close(self) -> None:
        self._graphs.clear()
