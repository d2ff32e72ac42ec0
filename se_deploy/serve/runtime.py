"""The runtime API for embedding: ``engine = se_deploy.load(path); logits = engine(batch)``.

``path`` is an ONNX file, an se-deploy ONNX Runtime engine folder (``engine.json``), or a TensorRT plan
(``.plan`` with its sidecar). Inputs are validated against the engine before anything runs; one engine
may be called from several threads (ONNX Runtime sessions are safe for concurrent ``run`` calls).

NaN and infinity in an input are refused by default (a broken preprocessing step would otherwise give
finite, plausible-looking logits); ``load(..., allow_nonfinite=True)`` or ``engine(batch, allow_nonfinite=True)``
passes them through to the engine unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from se_deploy import model_metadata
from se_deploy.backends.onnxruntime.engine import EngineDescription
from se_deploy.backends.onnxruntime.loader import open_session
from se_deploy.data.images import preprocess_any
from se_deploy.errors import InvalidArgumentError
from se_deploy.preprocessing import Preprocessing

_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


@dataclass(frozen=True)
class InputSpec:
    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]  # None where the engine takes any size (the batch)
    min_batch: int
    max_batch: int | None  # None: no limit known

    def describe(self) -> str:
        dims = ", ".join("N" if d is None else str(d) for d in self.shape)
        limit = f"{self.min_batch}..{self.max_batch}" if self.max_batch else f">= {self.min_batch}"
        return f"{self.name}: {self.dtype.name}[{dims}], batch {limit}"


def check_batch(spec: InputSpec, batch: Any) -> np.ndarray:
    """Raise InvalidArgumentError unless ``batch`` fits ``spec`` (type, dtype, rank, sizes, batch range)."""
    if not isinstance(batch, np.ndarray):
        raise InvalidArgumentError(f"expected a numpy array for {spec.describe()}, got {type(batch).__name__}")
    if batch.dtype != spec.dtype:
        raise InvalidArgumentError(
            f"input dtype {batch.dtype} does not match the engine's {spec.dtype} ({spec.describe()}); "
            f"convert with batch.astype(np.{spec.dtype.name})"
        )
    if batch.ndim != len(spec.shape):
        raise InvalidArgumentError(
            f"expected a rank-{len(spec.shape)} batch ({spec.describe()}), got shape {batch.shape}"
        )
    for axis, (want, got) in enumerate(zip(spec.shape, batch.shape, strict=True)):
        if axis > 0 and want is not None and want != got:
            raise InvalidArgumentError(f"dimension {axis} must be {want}, got shape {batch.shape} ({spec.describe()})")
    n = batch.shape[0]
    if n < spec.min_batch or (spec.max_batch is not None and n > spec.max_batch):
        raise InvalidArgumentError(f"batch size {n} is outside the engine's range ({spec.describe()}); split the batch")
    return batch


def check_input(spec: InputSpec, batch: Any, *, allow_nonfinite: bool) -> np.ndarray:
    """``check_batch``, then the NaN/Inf policy: what every loaded engine checks before it runs."""
    check_batch(spec, batch)
    if not allow_nonfinite:
        refuse_nonfinite(batch)
    return batch


class Engine:
    """A loaded engine: ``engine(batch) -> logits``; ``engine.preprocess(image) -> one input sample``."""

    def __init__(
        self,
        session: Any,
        model_path: Path,
        source: str,
        preprocessing: Preprocessing,
        max_batch: int | None,
        description: EngineDescription | None,
        allow_nonfinite: bool = False,
    ) -> None:
        self._session = session
        self.allow_nonfinite = allow_nonfinite
        self.model_path = model_path
        self.source = source
        self.preprocessing = preprocessing
        self.description = description
        first = session.get_inputs()[0]
        if first.type not in _NUMPY:
            raise InvalidArgumentError(
                f"{source}: input {first.name!r} has type {first.type}; se-deploy serves float image models"
            )
        shape = tuple(d if isinstance(d, int) else None for d in first.shape)
        fixed_batch = shape[0]
        self.input_spec = InputSpec(
            name=first.name,
            dtype=np.dtype(_NUMPY[first.type]),
            shape=shape,
            min_batch=fixed_batch or 1,
            max_batch=fixed_batch or max_batch,
        )
        self.output_names = [o.name for o in session.get_outputs()]

    def __repr__(self) -> str:
        return f"Engine({self.source!r}, {self.input_spec.describe()})"

    def check(self, batch: Any, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        """Raise InvalidArgumentError unless ``batch`` fits the engine; returns it unchanged.

        ``allow_nonfinite`` (default: the engine's, set at ``load``) lets NaN/Inf values through.
        """
        allowed = self.allow_nonfinite if allow_nonfinite is None else allow_nonfinite
        return check_input(self.input_spec, batch, allow_nonfinite=allowed)

    def __call__(self, batch: np.ndarray, *, allow_nonfinite: bool | None = None) -> np.ndarray:
        self.check(batch, allow_nonfinite=allow_nonfinite)
        outputs = self._session.run(self.output_names[:1], {self.input_spec.name: batch})
        return np.asarray(outputs[0])

    def preprocess(self, image: Any) -> np.ndarray:
        """A PIL image, uint8 H x W x 3 array or image path -> one (3, H, W) sample in the engine's dtype."""
        return preprocess_any(image, self.preprocessing).astype(self.input_spec.dtype, copy=False)


def refuse_nonfinite(batch: np.ndarray) -> None:
    """Raise InvalidArgumentError if ``batch`` holds NaN or infinity."""
    finite = np.isfinite(batch)
    if finite.all():
        return
    bad = batch[~finite]
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    raise InvalidArgumentError(
        f"input holds {int(np.isnan(bad).sum())} NaN and {int(np.isinf(bad).sum())} infinite value(s) "
        f"(first at index {first}); fix the preprocessing, or pass allow_nonfinite=True to run them anyway"
    )


def load(
    path: str | os.PathLike[str],
    *,
    threads: int | None = None,
    max_batch: int | None = None,
    allow_nonfinite: bool = False,
) -> Engine:
    """Load an ONNX file, an se-deploy engine folder, or a TensorRT plan; see the module docstring.

    ``allow_nonfinite=True``: NaN/Inf inputs go to the engine as they are (refused by default).
    """
    path = Path(path)
    if path.suffix in (".plan", ".engine"):
        from se_deploy.serve.tensorrt_loader import load_plan

        return load_plan(path, allow_nonfinite=allow_nonfinite)
    loaded = open_session(path, threads=threads)
    facts = model_metadata.read(loaded.model)
    preprocessing = model_metadata.preprocessing_of(loaded.model) or model_metadata.default_preprocessing(loaded.model)
    limit = max_batch or facts.get("max_batch")
    return Engine(
        loaded.session,
        loaded.model_path,
        str(path),
        preprocessing,
        int(limit) if limit else None,
        loaded.description,
        allow_nonfinite=allow_nonfinite,
    )
