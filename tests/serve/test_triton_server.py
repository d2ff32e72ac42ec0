"""A real Triton Inference Server (NVIDIA PyTriton's bundled tritonserver) on loopback, serving se-deploy
engines under concurrent load: INT8, and FP32 (SE-native where this CPU has ORT's NCHWc layout: Triton's
dynamic batcher merges requests into batches the engine runs on its batch buckets); every answer is
checked against the runtime API.

PyTriton pins numpy < 2, so it lives in its own environment: `bash scripts/setup_serve_env.sh` and
SE_DEPLOY_SERVE_PYTHON pointing at its python (.ci/run does both)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.batch_parallel import available_cores
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.native.platform import current_platform
from se_deploy.prepare import Preparation

ROOT = Path(__file__).resolve().parents[2]
SERVE_PYTHON = os.environ.get("SE_DEPLOY_SERVE_PYTHON")


@pytest.mark.skipif(
    not SERVE_PYTHON, reason="no serve environment: bash scripts/setup_serve_env.sh, then set SE_DEPLOY_SERVE_PYTHON"
)
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_triton_serves_an_engine_under_concurrent_load(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path], precision: str
) -> None:
    engine = tmp_path / precision
    calib = digits_folders["train"] if precision == "int8" else None
    built = build_onnxruntime_engine(
        BuildRequest(
            digits_models["se_resnet_tiny"],
            engine,
            Preparation(precision=precision, calib=calib, calib_samples=64),
        ),
        # INT8 serves batches as per-core slices (auto would time it and keep whole batches for this tiny model)
        OnnxRuntimeOptions(batch_parallel="on" if precision == "int8" else "auto"),
    )
    out = tmp_path / "serve.json"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            str(SERVE_PYTHON),
            str(ROOT / "benchmarks" / "triton_serve_check.py"),
            "--engine",
            str(engine),
            "--requests",
            "120",
            "--concurrency",
            "8",
            "--max-seconds",
            "120",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=tmp_path,
    )
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["answered"] == 120 and record["errors"] == 0 and record["mismatches"] == 0, record
    assert record["p50_ms"] > 0 and record["p99_ms"] >= record["p50_ms"]
    # every image went through the engine Triton called, in batches its dynamic batcher formed
    assert sum(int(size) * count for size, count in record["batch_sizes_served"].items()) == record["images_requested"]
    if built.description.native:  # SE-native FP32 (NCHWc CPUs): the served runner ran the bucket graphs
        assert record["native_buckets_run"], record
    else:
        assert precision == "int8" or current_platform().nchwc_block is None
        assert record["native_buckets_run"] is None
    plan = built.description.batch_parallel or {}
    assert plan.get("enabled") == (precision == "int8")  # INT8 SE engines split batches across cores
    if plan.get("enabled") and available_cores() >= 2 and any(int(size) > 1 for size in record["batch_sizes_served"]):
        assert record["batch_parallel_sliced_runs"], record  # the served runner ran Triton's batches as slices
    assert proc.returncode == 0
