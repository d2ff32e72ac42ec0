"""TensorRT plans through the runtime API: the sidecar is checked first, then TensorRT is needed.

The TensorRT parts (``se_deploy/backends/tensorrt/runtime.py``) are written from NVIDIA's
documentation and have never run: TensorRT cannot be installed on this project's machines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from se_deploy.backends.tensorrt.metadata import PlanMetadata
from se_deploy.data.images import preprocess_any
from se_deploy.errors import InvalidArgumentError
from se_deploy.models.registry import IMAGENET_224, Preprocessing
from se_deploy.serve.runtime import InputSpec, refuse_nonfinite


class PlanEngine:  # pragma: no cover - runs only with TensorRT and a GPU
    """``se_deploy.load`` for a plan: the same interface as the ONNX Runtime engine."""

    def __init__(self, path: Path, meta: PlanMetadata, *, allow_nonfinite: bool = False) -> None:
        from se_deploy.backends.tensorrt.runtime import TensorRTRunner

        self.runner = TensorRTRunner(path)
        self.meta = meta
        self.allow_nonfinite = allow_nonfinite
        # FP16/INT8 builds keep FP32 inputs and outputs (the ONNX was converted with keep_io_types).
        self.input_spec = InputSpec(
            meta.input_name, np.dtype(np.float32), (None, *meta.input_shape), meta.batch.min, meta.batch.max
        )
        self.preprocessing = (
            Preprocessing.from_dict(meta.preprocessing)
            if meta.preprocessing
            else IMAGENET_224.for_crop(meta.input_shape[-1])
        )

    def __call__(self, batch: np.ndarray, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        if not (self.allow_nonfinite if allow_nonfinite is None else allow_nonfinite):
            refuse_nonfinite(batch)
        return self.runner.infer(batch)

    def preprocess(self, image: Any) -> np.ndarray:
        return preprocess_any(image, self.preprocessing)


def load_plan(path: Path, *, allow_nonfinite: bool = False) -> PlanEngine:
    if not path.exists():
        raise InvalidArgumentError(f"TensorRT plan {str(path)!r} does not exist")
    meta = PlanMetadata.read(path)  # refuses plans without a valid sidecar, before TensorRT is needed
    return PlanEngine(path, meta, allow_nonfinite=allow_nonfinite)
