"""What the ONNX Runtime backend builds and loads: an engine folder (``engine_folder.py``) or a bare ONNX file."""

from __future__ import annotations

from pathlib import Path

from se_deploy.backends.engine_folder import engine_backend
from se_deploy.errors import InvalidArgumentError

BACKEND_NAME = "onnxruntime"
DEVICES: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def recognizes(path: Path) -> bool:
    """An engine folder (or its engine.json) built for ONNX Runtime, or an .onnx file."""
    backend = engine_backend(path)
    return backend == BACKEND_NAME if backend is not None else path.suffix == ".onnx"


def providers_for(device: str) -> list[str]:
    """Execution providers for ``device``; refuses one this onnxruntime build does not have."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise InvalidArgumentError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    wanted = DEVICES[device]
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise InvalidArgumentError(
            f"--device {device} needs {wanted[0]}, which this onnxruntime ({ort.__version__}) does not have "
            f"(it has {', '.join(available)}). Install the GPU build: pip install 'se-deploy[gpu]'."
        )
    return wanted
