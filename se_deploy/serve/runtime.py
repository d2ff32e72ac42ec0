"""The runtime API for embedding: ``runner = se_deploy.load(path); logits = runner(batch)``.

``path`` is any backend's artifact: an ONNX file or an se-deploy ONNX Runtime engine folder
(``engine.json``), a TensorRT plan (``.plan`` with its sidecar), an OpenVINO engine folder. The registry
(``backends/registry.py``) picks the backend; its ``Runner`` validates inputs before anything runs
(``backends/base.py``). One ONNX Runtime runner may be called from several threads.

NaN and infinity in an input are refused by default (a broken preprocessing step would otherwise give
finite, plausible-looking logits); ``load(..., allow_nonfinite=True)`` or ``runner(batch, allow_nonfinite=True)``
passes them through to the engine unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from se_deploy.backends.base import LoadOptions, Runner
from se_deploy.backends.registry import backend_for_artifact


def load(
    path: str | os.PathLike[str],
    *,
    threads: int | None = None,
    max_batch: int | None = None,
    allow_nonfinite: bool = False,
) -> Runner:
    """Load any backend's artifact (ONNX file, engine folder, TensorRT plan); see the module docstring.

    ``allow_nonfinite=True``: NaN/Inf inputs go to the engine as they are (refused by default).
    """
    path = Path(path)
    backend = backend_for_artifact(path)
    assert backend.load is not None  # backend_for_artifact returns loadable backends only
    return backend.load(path, LoadOptions(threads=threads, max_batch=max_batch, allow_nonfinite=allow_nonfinite))
