"""TensorRT plans through the runtime API: the sidecar is checked first, then TensorRT is needed.

The TensorRT parts (``se_deploy/backends/tensorrt/runtime.py``) are written from NVIDIA's
documentation and have never run: TensorRT cannot be installed on this project's machines. What is
tested here: the sidecar decides the input spec and the preprocessing (the model's own, recorded at
build time), and every batch is checked against the spec before it reaches TensorRT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from se_deploy.backends.tensorrt.metadata import PlanMetadata, sidecar_path
from se_deploy.data.images import preprocess_any
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing
from se_deploy.serve.runtime import InputSpec, check_input


class PlanRunner(Protocol):
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


class PlanEngine:
    """``se_deploy.load`` for a plan: the same interface as the ONNX Runtime engine."""

    def __init__(
        self, path: Path, meta: PlanMetadata, runner: PlanRunner | None = None, *, allow_nonfinite: bool = False
    ) -> None:
        self.meta = meta
        self.allow_nonfinite = allow_nonfinite
        self.input_spec = plan_input_spec(meta)
        self.preprocessing = plan_preprocessing(path, meta)  # before TensorRT is needed
        if runner is None:  # pragma: no cover - needs TensorRT and a GPU
            from se_deploy.backends.tensorrt.runtime import TensorRTRunner

            runner = TensorRTRunner(path)
        self.runner = runner

    def check(self, batch: Any, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        """Raise InvalidArgumentError unless ``batch`` fits the plan (the ONNX Runtime engine's checks)."""
        allowed = self.allow_nonfinite if allow_nonfinite is None else allow_nonfinite
        return check_input(self.input_spec, batch, allow_nonfinite=allowed)

    def __call__(self, batch: np.ndarray, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        return self.runner.infer(self.check(batch, allow_nonfinite=allow_nonfinite))

    def preprocess(self, image: Any) -> np.ndarray:
        return preprocess_any(image, self.preprocessing).astype(self.input_spec.dtype, copy=False)


def load_plan(path: Path, *, allow_nonfinite: bool = False) -> PlanEngine:
    if not path.exists():
        raise InvalidArgumentError(f"TensorRT plan {str(path)!r} does not exist")
    meta = PlanMetadata.read(path)  # refuses plans without a valid sidecar, before TensorRT is needed
    return PlanEngine(path, meta, allow_nonfinite=allow_nonfinite)
