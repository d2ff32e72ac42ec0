"""Run an ONNX Runtime engine folder (or a bare ONNX file) on batches of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from se_deploy.backends.onnxruntime.engine import EngineDescription
from se_deploy.backends.onnxruntime.loader import open_session
from se_deploy.errors import InvalidArgumentError


class OnnxRuntimeRunner:
    """Loads once; ``infer(batch)`` returns the first output as float32."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        # Spinning threads steal cores from anything else measured in this process (see DESIGN.md).
        loaded = open_session(path, threads=threads, spinning=False)
        self.description: EngineDescription | None = loaded.description
        self.model: onnx.ModelProto = loaded.model
        self.session = loaded.session
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
