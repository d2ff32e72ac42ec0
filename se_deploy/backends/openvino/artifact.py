"""What the OpenVINO backend builds and loads: an engine folder (``engine_folder.py``) whose ONNX is inlined."""

from __future__ import annotations

from pathlib import Path

from se_deploy.backends.engine_folder import engine_backend

BACKEND_NAME = "openvino"


def recognizes(path: Path) -> bool:
    """An engine folder (or its engine.json) whose description names OpenVINO."""
    return engine_backend(path) == BACKEND_NAME
