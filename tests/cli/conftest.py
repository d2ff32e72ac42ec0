"""Small ONNX models and files the CLI tests feed to the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from tests.rewrite.graphs import SEGraph


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    image = tmp_path / "image.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8).build(), str(image))
    weight = helper.make_tensor("W", TensorProto.FLOAT, [16, 4], np.ones(64, np.float32))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "rank2",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [weight],
    )
    rank2 = tmp_path / "rank2.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(rank2))
    two_inputs = tmp_path / "two_inputs.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8, residual=True).build(), str(two_inputs))
    text = tmp_path / "notes.pth"
    text.write_text("hello\n")
    calib = tmp_path / "calib" / "3"
    calib.mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(calib / f"{i}.png")
    return {"image": image, "rank2": rank2, "two_inputs": two_inputs, "text": text, "calib": calib.parent}


@pytest.fixture
def image_onnx(tmp_path: Path) -> Path:
    """A tiny image model (N, 3, 8, 8) with one SE block: fast to build, bench and package."""
    path = tmp_path / "model.onnx"
    onnx.save(SEGraph(channels=3, reduced=1, spatial=8).build(), str(path))
    return path


@pytest.fixture
def se_onnx(tmp_path: Path) -> Path:
    from tests.rewrite.graphs import SEGraph

    path = tmp_path / "se.onnx"
    import onnx

    onnx.save(SEGraph(residual=True).build(), str(path))
    return path
