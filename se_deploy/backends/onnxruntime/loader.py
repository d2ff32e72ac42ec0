"""Open an ONNX Runtime session on an ONNX file or an se-deploy engine folder (``engine.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from se_deploy.backends.onnxruntime.engine import ENGINE_FILENAME, EngineDescription
from se_deploy.onnx_io import load_onnx


@dataclass
class LoadedModel:
    model: onnx.ModelProto
    model_path: Path
    session: Any  # onnxruntime.InferenceSession
    description: EngineDescription | None  # None for a bare ONNX file


def open_session(path: Path, *, threads: int | None = None, spinning: bool = True) -> LoadedModel:
    """A session with the engine's execution providers (CPU for a bare ONNX file).

    ``spinning=False`` stops idle intra-op threads from spinning: needed when several sessions share a
    process and are timed against each other (see DESIGN.md).
    """
    import onnxruntime as ort

    description = None
    providers = ["CPUExecutionProvider"]
    if path.is_dir() or path.name == ENGINE_FILENAME:
        folder = path if path.is_dir() else path.parent
        description = EngineDescription.read(folder)
        model_path = folder / description.model_file
        providers = description.providers
    else:
        model_path = path
    model = load_onnx(model_path)
    if description is not None and description.native:
        from se_deploy.backends.onnxruntime.native.session import NativeSession, check_platform

        check_platform(description.native, folder)
        files = {int(bucket): name for bucket, name in description.native["files"].items()}
        native = NativeSession(folder, files, threads=threads, spinning=spinning)
        return LoadedModel(model, model_path, native, description)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    return LoadedModel(model, model_path, session, description)
