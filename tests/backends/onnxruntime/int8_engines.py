"""One way for tests to build a small INT8 ONNX Runtime engine (the digits models, calibrated on digits)."""

from __future__ import annotations

from pathlib import Path

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import OnnxRuntimeBuild, OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.prepare import Preparation


def build_int8(
    source: Path,
    output: Path,
    calib: Path,
    *,
    samples: int,
    fuse: bool = True,
    options: OnnxRuntimeOptions | None = None,
) -> OnnxRuntimeBuild:
    preparation = Preparation(precision="int8", calib=calib, calib_samples=samples, fuse=fuse)
    return build_onnxruntime_engine(BuildRequest(source, output, preparation), options or OnnxRuntimeOptions())
