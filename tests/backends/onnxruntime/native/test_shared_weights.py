"""share_weights: large initializers move to one file, each content once, and the graphs still run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.shared_weights import ALIGNMENT, MIN_EXTERNAL_BYTES, share_weights


def _matmul_graph(weight: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y0"]), helper.make_node("Add", ["y0", "b"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, weight.shape[0]])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, weight.shape[1]])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_same_weights_are_stored_once_and_every_graph_reads_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    shared, other = rng.standard_normal((2, 64, 30)).astype(np.float32)  # 7680 bytes: padded to 8192
    bias = rng.standard_normal(30).astype(np.float32)  # 128 bytes: stays inline
    graphs = [_matmul_graph(shared, bias), _matmul_graph(shared, bias), _matmul_graph(other, bias)]
    result = share_weights(graphs)
    assert shared.nbytes >= MIN_EXTERNAL_BYTES > bias.nbytes
    assert (result.tensors, result.distinct, result.inline_bytes) == (3, 2, 3 * shared.nbytes)
    assert len(result.data) == 2 * ALIGNMENT + other.nbytes  # the second content starts on an aligned offset
    (tmp_path / "weights.bin").write_bytes(result.data)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    for i, (graph, weight) in enumerate(zip(graphs, (shared, shared, other), strict=True)):
        w, b = graph.graph.initializer
        assert w.data_location == onnx.TensorProto.EXTERNAL and not w.raw_data
        assert b.data_location == onnx.TensorProto.DEFAULT
        path = tmp_path / f"g{i}.onnx"
        onnx.save(graph, str(path))
        (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
        np.testing.assert_allclose(y, x @ weight + bias, rtol=1e-5, atol=1e-5)


def test_typed_data_fields_are_moved_too() -> None:
    tensor = helper.make_tensor("w", onnx.TensorProto.FLOAT, [512], np.arange(512, dtype=np.float32).tolist())
    assert not tensor.raw_data and len(tensor.float_data) == 512
    model = helper.make_model(helper.make_graph([], "g", [], [], [tensor]))
    result = share_weights([model])
    (moved,) = model.graph.initializer
    assert not moved.float_data and moved.data_location == onnx.TensorProto.EXTERNAL
    assert np.array_equal(np.frombuffer(result.data, dtype=np.float32), np.arange(512, dtype=np.float32))
