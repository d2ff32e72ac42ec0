"""Load an OpenVINO engine folder (or an ONNX file) into a Runner: OpenVINO's CPU plugin, FP32.

``bench --peer openvino`` measures the stock SE model, the fused model and the twin on it. OpenVINO has
no conversion rule for a custom-domain node ("No conversion rule for
se_deploy.SqueezeExcitationResidual"), so the fused model's model-local functions are inlined first
(``onnx.inliner.inline_local_functions``): OpenVINO then sees the fused graph's standard ops. Each batch
size gets its own compiled model with a static input shape (OpenVINO's recommended use on CPU), FP32
inference precision forced (OpenVINO picks bf16 by default on CPUs with AMX/AVX-512 BF16), one stream,
``threads`` inference threads, no CPU pinning (other variants share the cores in the same process).

``openvino`` is optional: without it the backend is unavailable and the bench peer is skipped with a
note (``pip install openvino``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.inliner

from se_deploy import model_metadata
from se_deploy.backends.base import LoadOptions, Runner
from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_spec import InputSpec

_NUMPY = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16}
INSTALL_HINT = "pip install openvino"


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise InvalidArgumentError(f"the openvino peer needs OpenVINO: {INSTALL_HINT}") from exc
    return openvino


def openvino_version() -> str:
    return str(import_openvino().__version__)


def inline_for_openvino(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with every model-local function inlined (no-op for a model without any)."""
    if not model.functions:
        return model
    inlined = onnx.inliner.inline_local_functions(model)
    del inlined.functions[:]
    standard = {"", "ai.onnx"}
    used = {node.domain for node in inlined.graph.node}
    keep = [o for o in inlined.opset_import if o.domain in standard or o.domain in used]
    del inlined.opset_import[:]
    inlined.opset_import.extend(keep)
    return inlined


def input_spec_of(model: onnx.ModelProto, max_batch: int | None = None) -> InputSpec:
    """The first graph input as an InputSpec (the batch free unless the model fixes it)."""
    first = model.graph.input[0]
    tensor = first.type.tensor_type
    if tensor.elem_type not in _NUMPY:
        raise InvalidArgumentError(f"input {first.name!r} is not float32/float16; se-deploy serves float image models")
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
    fixed = shape[0] if shape else None
    return InputSpec(first.name, np.dtype(_NUMPY[tensor.elem_type]), shape, fixed or 1, fixed or max_batch)


class OpenVINORunner(Runner):
    """An ONNX file or an OpenVINO engine folder on OpenVINO's CPU plugin; first output as float32."""

    def __init__(
        self,
        path: Path,
        *,
        threads: int,
        work: Path | None = None,
        max_batch: int | None = None,
        allow_nonfinite: bool = False,
    ) -> None:
        ov = import_openvino()
        self.description: EngineDescription | None = None
        if path.is_dir():
            self.description = EngineDescription.read(path)
            path = path / self.description.model_file
        model = onnx.load(str(path))
        if model.functions:
            if work is None:
                raise ValueError("a model with local functions needs a work folder for its inlined copy")
            work.mkdir(parents=True, exist_ok=True)
            path = work / f"{path.parent.name}-{path.stem}-inlined.onnx"
            onnx.save(inline_for_openvino(model), str(path))
        self.input_spec = input_spec_of(model, max_batch)
        self.preprocessing = model_metadata.preprocessing_of(model) or model_metadata.default_preprocessing(model)
        self.allow_nonfinite = allow_nonfinite
        self._core = ov.Core()
        self._model = self._core.read_model(str(path))
        self._input = self._model.inputs[0].get_any_name()
        self._config = {
            "INFERENCE_PRECISION_HINT": "f32",
            "INFERENCE_NUM_THREADS": int(threads),
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
        }
        self._requests: dict[tuple[int, ...], Any] = {}

    def _request(self, shape: tuple[int, ...]) -> Any:
        request = self._requests.get(shape)
        if request is None:
            model = self._model.clone()
            model.reshape({self._input: list(shape)})
            compiled = self._core.compile_model(model, "CPU", self._config)
            request = compiled.create_infer_request()
            self._requests[shape] = request
        return request

    def _run(self, batch: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(batch, dtype=np.float32)
        request = self._request(tuple(data.shape))
        request.infer({0: data})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def close(self) -> None:
        self._requests.clear()


def load(path: Path, options: LoadOptions) -> OpenVINORunner:
    """An engine folder written by ``se-deploy build --backend openvino`` (its ONNX has no local functions)."""
    import os

    return OpenVINORunner(
        path,
        threads=options.threads or os.cpu_count() or 1,
        max_batch=options.max_batch,
        allow_nonfinite=options.allow_nonfinite,
    )
