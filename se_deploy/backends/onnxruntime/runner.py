"""Run an ONNX Runtime engine folder (or a bare ONNX file) on batches of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from se_deploy.backends.onnxruntime.engine import ENGINE_FILENAME, EngineDescription
from se_deploy.errors import InvalidArgumentError
from se_deploy.rewrite.job import load_onnx


class OnnxRuntimeRunner:
    """Loads once; ``infer(batch)`` returns the first output as float32."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.description: EngineDescription | None = None
        if path.is_dir():
            self.description = EngineDescription.read(path)
            model_path = path / self.description.model_file
            providers = self.description.providers
        elif path.name == ENGINE_FILENAME:
            return self.__init__(path.parent, threads=threads)  # type: ignore[misc]
        else:
            model_path = path
            providers = ["CPUExecutionProvider"]
        self.model: onnx.ModelProto = load_onnx(model_path)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        # Spinning threads steal cores from anything else measured in this process (see DESIGN.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(self.model.SerializeToString(), options, providers=providers)
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        self.input_shape = first.shape
        self.input_dtype = np.float16 if "float16" in first.type else np.float32

    def infer(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim != len(self.input_shape):
            raise InvalidArgumentError(
                f"expected a rank-{len(self.input_shape)} batch {self.input_shape}, got shape {batch.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.input_shape, batch.shape, strict=True)):
            if isinstance(want, int) and want != got:
                raise InvalidArgumentError(
                    f"input dimension {axis} must be {want}, got {got} (input shape {self.input_shape})"
                )
        (logits, *_rest) = self.session.run(None, {self.input_name: batch.astype(self.input_dtype, copy=False)})
        return np.asarray(logits, dtype=np.float32)
