"""``se-deploy build --backend openvino`` writes an engine folder that ``se_deploy.load`` opens on OpenVINO."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

import se_deploy
from se_deploy.backends.onnxruntime.runner import OnnxRuntimeRunner
from se_deploy.cli import main
from se_deploy.rewrite.fused_op import DOMAIN

pytest.importorskip("openvino", reason="the OpenVINO backend needs `pip install openvino` (test extra)")


def test_build_then_load_runs_the_fused_model_on_openvino(tmp_path: Path, digits_models: dict[str, Path]) -> None:
    source = digits_models["se_resnet_tiny"]
    engine = tmp_path / "ov"
    result = CliRunner().invoke(main, ["build", str(source), "-o", str(engine), "--backend", "openvino", "--json"])
    assert result.exit_code == 0, result.output
    description = json.loads(result.stdout)
    assert description["backend"] == "openvino" and description["fused"] and description["se_blocks"] == 4
    model = onnx.load(str(engine / "model.onnx"))
    assert not model.functions and all(node.domain != DOMAIN for node in model.graph.node)  # inlined for OpenVINO

    runner = se_deploy.load(engine, threads=1)
    assert type(runner).__name__ == "OpenVINORunner" and runner.description.backend == "openvino"
    data = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    want = OnnxRuntimeRunner(source).infer(data)
    np.testing.assert_allclose(runner(data), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert runner.preprocess(np.full((40, 40, 3), 128, np.uint8)).shape == (3, 32, 32)

    again = CliRunner().invoke(main, ["build", str(source), "-o", str(engine), "--backend", "openvino"])
    assert again.exit_code == 1 and "--force" in again.output  # an existing engine folder is never overwritten
