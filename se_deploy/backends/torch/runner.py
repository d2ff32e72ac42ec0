"""Run a PyTorch model the fast way on a GPU: FP16, channels-last, one CUDA graph per batch size.

``TorchRunner.create(model, mode=...)``: ``eager``, ``cuda_graph``, ``compile`` (torch.compile
max-autotune), or ``fused`` (SE modules swapped for the Triton op, then CUDA graphs). ``infer(batch)``
takes and returns numpy arrays, like the ONNX Runtime runner.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from se_deploy.backends.torch.fuse_modules import SwapReport, fuse_se_modules
from se_deploy.errors import InvalidArgumentError

MODES: tuple[str, ...] = ("eager", "cuda_graph", "compile", "fused")


class TorchRunner:
    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        dtype: torch.dtype,
        channels_last: bool,
        swap: SwapReport | None = None,
    ) -> None:
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
    ) -> TorchRunner:
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

    def infer(self, batch: np.ndarray) -> np.ndarray:
        out = self.infer_tensor(self._prepare(batch))
        return out.float().cpu().numpy()
