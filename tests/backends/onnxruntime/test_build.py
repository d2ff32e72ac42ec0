from __future__ import annotations

import json
from pathlib import Path

import pytest

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.engine_folder import EngineDescription
from se_deploy.backends.onnxruntime.artifact import providers_for
from se_deploy.backends.onnxruntime.build import OnnxRuntimeOptions, build_onnxruntime_engine
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.errors import InvalidArgumentError, OutputError
from se_deploy.prepare import Preparation


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_writes_model_and_description(
    tmp_path: Path, precision: str, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    source = digits_models["se_resnet_tiny"]
    calib = digits_folders["train"] if precision == "int8" else None
    result = build_onnxruntime_engine(
        BuildRequest(source, tmp_path / "engine", Preparation(precision=precision, calib=calib, calib_samples=16))
    )
    description = EngineDescription.read(tmp_path / "engine")
    assert description.precision == precision and description.fused and description.se_blocks == 4
    assert description.providers == ["CPUExecutionProvider"] and len(description.source_sha256) == 64
    assert description.model_name == "se_resnet_tiny"
    assert result.fidelity["max_abs_error"] < (1e-4 if precision == "fp32" else 5.0)
    native = ["native"] if precision in ("fp32", "int8") else []  # SE-native graphs: FP32 and INT8 CPU engines
    assert sorted(p.name for p in (tmp_path / "engine").iterdir()) == ["engine.json", "model.onnx", *native]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine"]  # staging removed
    runner = OnnxRuntimeRunner(tmp_path / "engine")
    import numpy as np

    assert runner.infer(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
    if precision == "int8":
        details = description.precision_details
        assert details["settings"]["activation_type"] == "uint8" and details["se_inlined"] == 4
        assert details["squeeze_as_global_average_pool"]["rewritten"] == 1  # the head's mean (SE bodies use GAP)


def test_model_without_se_builds_and_says_so(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    result = build_onnxruntime_engine(BuildRequest(digits_models["resnet_tiny"], tmp_path / "e"))
    assert not result.description.fused and result.description.se_blocks == 0
    assert any("no SE blocks" in note for note in result.description.notes)


def test_bad_requests_are_clear_errors(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = digits_models["se_resnet_tiny"]
    with pytest.raises(InvalidArgumentError, match="needs calibration images"):
        build_onnxruntime_engine(BuildRequest(source, tmp_path / "e", Preparation(precision="int8")))
    with pytest.raises(InvalidArgumentError, match="needs CUDAExecutionProvider"):
        build_onnxruntime_engine(BuildRequest(source, tmp_path / "e"), OnnxRuntimeOptions(device="cuda"))
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "engine.json").write_text(json.dumps({"schema": "se-deploy/engine/1"}))
    with pytest.raises(OutputError, match="--force"):
        build_onnxruntime_engine(BuildRequest(source, tmp_path / "exists"))
    (tmp_path / "exists" / "engine.json").unlink()
    (tmp_path / "exists" / "data.csv").write_text("not ours")
    with pytest.raises(OutputError, match="not written by se-deploy"):
        build_onnxruntime_engine(BuildRequest(source, tmp_path / "exists", force=True))
    with pytest.raises(InvalidArgumentError, match="unknown device"):
        providers_for("tpu")


def test_engine_description_schema_is_checked(tmp_path: Path) -> None:
    (tmp_path / "engine.json").write_text(json.dumps({"schema": "other/9"}))
    with pytest.raises(InvalidArgumentError, match="rebuild the engine"):
        EngineDescription.read(tmp_path)
    with pytest.raises(InvalidArgumentError, match=r"no engine\.json"):
        EngineDescription.read(tmp_path / "missing")


def test_runner_validates_input_shape(digits_models: dict[str, Path]) -> None:
    import numpy as np

    runner = OnnxRuntimeRunner(digits_models["se_resnet_tiny"])
    with pytest.raises(InvalidArgumentError, match="dimension 2 must be 32"):
        runner.infer(np.zeros((1, 3, 16, 16), np.float32))
    with pytest.raises(InvalidArgumentError, match="rank-4"):
        runner.infer(np.zeros((3, 32, 32), np.float32))
