"""OpenVINO (CPU, FP32) as a bench peer: the stock SE model, the fused model and the twin, from their ONNX.

OpenVINO has no conversion rule for a custom-domain node ("No conversion rule for
se_deploy.SqueezeExcitationResidual"), so the fused model's model-local functions are inlined first
(``onnx.inliner.inline_local_functions``): OpenVINO then sees the fused graph's standard ops. Each batch
size gets its own compiled model with a static input shape (OpenVINO's recommended use on CPU), FP32
inference precision forced (OpenVINO picks bf16 by default on CPUs with AMX/AVX-512 BF16), one stream,
``threads`` inference threads, no CPU pinning (other variants share the cores in the same process).

``openvino`` is optional: without it the peer is skipped with a note (``pip install openvino``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.inliner

from se_deploy.errors import InvalidArgumentError

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


class OpenVINORunner:
    """``infer(batch)`` for an ONNX file on OpenVINO's CPU plugin; first output as float32."""

    def __init__(self, path: Path, *, threads: int, work: Path | None = None) -> None:
        ov = import_openvino()
        model = onnx.load(str(path))
        if model.functions:
            if work is None:
                raise ValueError("a model with local functions needs a work folder for its inlined copy")
            work.mkdir(parents=True, exist_ok=True)
            path = work / f"{path.parent.name}-{path.stem}-inlined.onnx"
            onnx.save(inline_for_openvino(model), str(path))
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

    def infer(self, batch: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(batch, dtype=np.float32)
        request = self._request(tuple(data.shape))
        request.infer({0: data})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)


def openvino_runners(
    stock: Path, twin: Path, work: Path, *, threads: int, notes: list[str]
) -> dict[tuple[str, ...], OpenVINORunner]:
    """Runners keyed like the bench's (``"openvino"``, variant, ``"fp32"``); none, with a note, without OpenVINO."""
    from se_deploy.bench.variants import FUSED, STOCK, TWIN
    from se_deploy.rewrite.surgery import fuse_se

    try:
        version = openvino_version()
    except InvalidArgumentError as exc:
        notes.append(f"openvino: skipped ({exc})")
        return {}
    folder = work / "openvino"
    folder.mkdir(parents=True, exist_ok=True)
    fused = folder / "fused.onnx"
    onnx.save(inline_for_openvino(fuse_se(onnx.load(str(stock))).model), str(fused))
    notes.append(
        f"openvino {version}: CPU, FP32 inference precision, static shape per batch; "
        "the fused model runs with its SE functions inlined (OpenVINO cannot convert the se_deploy node)"
    )
    return {
        ("openvino", STOCK, "fp32"): OpenVINORunner(stock, threads=threads, work=folder),
        ("openvino", FUSED, "fp32"): OpenVINORunner(fused, threads=threads, work=folder),
        ("openvino", TWIN, "fp32"): OpenVINORunner(twin, threads=threads, work=folder),
    }
