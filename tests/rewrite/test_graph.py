"""The graph index's shape inference falls back to ONNX Runtime's symbolic inference, which must leave
nothing in the working directory when it gives up (it saves "sym_shape_infer_temp.onnx" there)."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx import TensorProto, helper

from se_deploy.rewrite.graph import GraphIndex


def test_incomplete_symbolic_inference_writes_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mystery", ["r"], ["y"], domain="vendor")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("vendor", 1)])
    monkeypatch.chdir(tmp_path)
    index = GraphIndex(model)
    assert index.shape("r") == ("N", 3, 8, 8)
    assert list(tmp_path.iterdir()) == []
