"""Load a TensorRT plan into a Runner: the sidecar is checked first, then TensorRT is needed.

``TensorRTRunner`` takes its input spec and the model's preprocessing from the sidecar (recorded at
build time, never guessed) and checks every batch before it reaches TensorRT (tested with a stand-in
executor). ``PlanExecutor`` runs the plan: execution context, device buffers (torch), one CUDA stream,
optional CUDA graph.

``PlanExecutor`` IS WRITTEN FROM NVIDIA'S DOCUMENTATION (TensorRT 10/11 named-tensor API: ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``) AND NEVER EXECUTED: TensorRT cannot be installed on this
project's machines. The sidecar checks before deserialization are tested (``artifact.py``).

``infer(batch)`` copies host -> device, runs, copies back on one stream; ``last_timing`` holds the GPU
compute time (CUDA events around the enqueue) apart from the transfers, for ``bench``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from se_deploy.backends.base import LoadOptions, Runner
from se_deploy.backends.tensorrt.artifact import PlanMetadata, check_compatible, sidecar_path
from se_deploy.backends.tensorrt.context_shape import ContextShape
from se_deploy.backends.tensorrt.plugin import import_tensorrt, register_plugins
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_spec import InputSpec
from se_deploy.preprocessing import Preprocessing


@dataclass
class Timing:
    h2d_ms: float = 0.0
    compute_ms: float = 0.0
    d2h_ms: float = 0.0


class PlanExecutor:  # pragma: no cover - needs TensorRT and a GPU
    def __init__(self, plan: Path, *, cuda_graph: bool = False) -> None:
        self.meta = PlanMetadata.read(plan)
        trt = import_tensorrt()
        import torch

        if not torch.cuda.is_available():
            raise InvalidArgumentError("a TensorRT plan needs a CUDA GPU; none is visible here")
        major, minor = torch.cuda.get_device_capability()
        check_compatible(
            self.meta,
            tensorrt_version=trt.__version__,
            gpu_name=torch.cuda.get_device_name(),
            compute_capability=f"{major}.{minor}",
        )
        if self.meta.plugin == "jit":
            register_plugins()  # JIT plugins run Python at run time: their creators must exist first
        self._torch = torch
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise InvalidArgumentError(f"TensorRT could not deserialize {str(plan)!r}; rebuild it on this machine")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self._dtypes = {n: _torch_dtype(torch, trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = torch.cuda.Stream()
        self.cuda_graph = cuda_graph
        self._graphs: dict[int, Any] = {}
        self._buffers: dict[int, dict[str, Any]] = {}
        self._context_shape = ContextShape()
        self.last_timing = Timing()

    def _prepare(self, batch_size: int) -> dict[str, Any]:
        shape = (batch_size, *self.meta.input_shape)
        if self._context_shape.must_set(shape):  # every change of batch size, not only the first time
            self.context.set_input_shape(self.inputs[0], shape)
        if batch_size in self._buffers:
            return self._buffers[batch_size]
        torch = self._torch
        buffers = {self.inputs[0]: torch.empty(shape, dtype=self._dtypes[self.inputs[0]], device="cuda")}
        for name in self.outputs:
            buffers[name] = torch.empty(
                tuple(self.context.get_tensor_shape(name)), dtype=self._dtypes[name], device="cuda"
            )
        self._buffers[batch_size] = buffers
        return buffers

    def _enqueue(self, buffers: dict[str, Any]) -> None:
        for name, tensor in buffers.items():
            self.context.set_tensor_address(name, tensor.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")

    def infer(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        n = batch.shape[0]
        if not self.meta.batch.min <= n <= self.meta.batch.max:
            raise InvalidArgumentError(
                f"batch {n} is outside the plan's profile {self.meta.batch.min}..{self.meta.batch.max}"
            )
        buffers = self._prepare(n)
        events = [torch.cuda.Event(enable_timing=True) for _ in range(4)]
        host = torch.from_numpy(np.ascontiguousarray(batch)).pin_memory()
        with torch.cuda.stream(self.stream):
            events[0].record()
            buffers[self.inputs[0]].copy_(host, non_blocking=True)
            events[1].record()
            if self.cuda_graph:
                if n not in self._graphs:
                    self._enqueue(buffers)  # one plain run first, as TensorRT requires before capture
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph, stream=self.stream):
                        self._enqueue(buffers)
                    self._graphs[n] = graph
                self._graphs[n].replay()
            else:
                self._enqueue(buffers)
            events[2].record()
            out = buffers[self.outputs[0]].float().cpu()
            events[3].record()
        self.stream.synchronize()
        self.last_timing = Timing(
            events[0].elapsed_time(events[1]), events[1].elapsed_time(events[2]), events[2].elapsed_time(events[3])
        )
        return out.numpy()


def _torch_dtype(torch: Any, trt: Any, dtype: Any) -> Any:  # pragma: no cover - needs TensorRT
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int8: torch.int8, trt.int32: torch.int32}
    if dtype not in table:
        raise InvalidArgumentError(f"unsupported TensorRT I/O dtype {dtype}")
    return table[dtype]


class Executor(Protocol):
    """What runs a checked batch: ``PlanExecutor`` on a GPU; a stand-in in tests (TensorRT cannot run here)."""

    def infer(self, batch: np.ndarray) -> np.ndarray: ...


def plan_input_spec(meta: PlanMetadata) -> InputSpec:
    # FP16/INT8 builds keep FP32 inputs and outputs (the ONNX was converted with keep_io_types).
    return InputSpec(meta.input_name, np.dtype(np.float32), (None, *meta.input_shape), meta.batch.min, meta.batch.max)


def plan_preprocessing(plan: Path, meta: PlanMetadata) -> Preprocessing:
    """The model's preprocessing as recorded in the sidecar at build time; never a guess."""
    if not meta.preprocessing:
        raise InvalidArgumentError(
            f"the sidecar {sidecar_path(plan).name} of {str(plan)!r} has no preprocessing (built by an older "
            "se-deploy); rebuild the plan with `se-deploy build --backend tensorrt`"
        )
    try:
        return Preprocessing.from_dict(meta.preprocessing)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"the sidecar {sidecar_path(plan).name} has an invalid preprocessing record ({exc}); rebuild the plan"
        ) from None


class TensorRTRunner(Runner):
    """A plan behind the Runner life cycle: the sidecar decides the input checks and the preprocessing."""

    def __init__(
        self, path: Path, meta: PlanMetadata, executor: Executor | None = None, *, allow_nonfinite: bool = False
    ) -> None:
        self.meta = meta
        self.allow_nonfinite = allow_nonfinite
        self.input_spec = plan_input_spec(meta)
        self.preprocessing = plan_preprocessing(path, meta)  # before TensorRT is needed
        if executor is None:  # pragma: no cover - needs TensorRT and a GPU
            executor = PlanExecutor(path)
        self.executor = executor

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self.executor.infer(batch)

    def close(self) -> None:
        self.executor = None  # type: ignore[assignment]


def load(path: Path, options: LoadOptions) -> TensorRTRunner:
    if not path.exists():
        raise InvalidArgumentError(f"TensorRT plan {str(path)!r} does not exist")
    meta = PlanMetadata.read(path)  # refuses plans without a valid sidecar, before TensorRT is needed
    return TensorRTRunner(path, meta, allow_nonfinite=options.allow_nonfinite)
