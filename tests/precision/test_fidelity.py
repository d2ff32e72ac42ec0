"""build measures the fidelity it produced: FP16 that breaks a model is reported and warned about,
and --fp16-mode mixed (onnxconverter-common's search) keeps the offending ops in FP32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from se_deploy.backends.base import BuildRequest
from se_deploy.backends.onnxruntime.build import build_onnxruntime_engine
from se_deploy.prepare import Preparation
from tests.rewrite.foreign_graphs import ForeignSE


def fp16_breaking_model(path: Path) -> Path:
    """An SE network whose output is (features * 1e5) * 1e-5: exact in FP32, overflows to inf in FP16."""
    model = ForeignSE(gate="sigmoid").build()
    graph = model.graph
    features = graph.output[0].name
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1e5, np.float32), "big"),
            numpy_helper.from_array(np.array(1e-5, np.float32), "small"),
        ]
    )
    graph.node.extend(
        [helper.make_node("Mul", [features, "big"], ["scaled"]), helper.make_node("Mul", ["scaled", "small"], ["out"])]
    )
    shape = [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, shape))
    onnx.save(model, str(path))
    return path


def test_fp16_that_breaks_the_model_is_measured_written_and_warned(tmp_path: Path) -> None:
    source = fp16_breaking_model(tmp_path / "m.onnx")
    result = build_onnxruntime_engine(BuildRequest(source, tmp_path / "fp16", Preparation(precision="fp16")))
    engine = json.loads((tmp_path / "fp16" / "engine.json").read_text())
    fidelity = engine["fidelity"]
    assert fidelity["within_limits"] is False and fidelity["changed_fraction"] > 0.01
    assert fidelity["input_shapes"] == {"X": [1, 3, 6, 10]} and fidelity["seeds"] == 3
    assert any(note.startswith("WARNING") and "--fp16-mode mixed" in note for note in engine["notes"])
    assert result.fidelity == fidelity

    mixed = build_onnxruntime_engine(
        BuildRequest(source, tmp_path / "mixed", Preparation(precision="fp16", fp16_mode="mixed"))
    )
    assert mixed.fidelity["within_limits"] is True
    assert not any(note.startswith("WARNING") for note in mixed.description.notes)
    details = mixed.description.precision_details
    assert details["fp16_mode"] == "mixed" and details["kept_fp32_ops"].get("Mul", 0) >= 1
    converted = onnx.load(str(tmp_path / "mixed" / "model.onnx"))
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in converted.graph.initializer)  # still mostly FP16


def test_fp32_build_is_within_limits(tmp_path: Path) -> None:
    source = fp16_breaking_model(tmp_path / "m.onnx")
    result = build_onnxruntime_engine(BuildRequest(source, tmp_path / "fp32"))
    assert result.fidelity["within_limits"] is True and result.fidelity["worst_relative_error"] < 1e-5
