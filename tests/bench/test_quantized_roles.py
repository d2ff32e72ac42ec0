"""SE roles in Q/DQ graphs: found on real INT8 builds (fused and stock), nothing on the twin or on look-alikes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from se_deploy.bench.profile import profile_engine, se_roles
from se_deploy.bench.quantized_roles import quantized_se_roles
from tests.backends.onnxruntime.int8_engines import build_int8


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "stock"])
def test_every_se_block_of_an_int8_build_is_found_and_profiled(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path], fuse: bool
) -> None:
    engine = tmp_path / "e"
    build_int8(digits_models["se_resnet_tiny"], engine, digits_folders["train"], samples=8, fuse=fuse)
    model = onnx.load(str(engine / "model.onnx"))
    assert se_roles(model) == {}  # the float matcher sees no SE block in a Q/DQ graph
    roles = quantized_se_roles(model)
    counts = Counter(roles.values())
    assert counts["SE squeeze"] == 4 and counts["SE scale"] == 4 and counts["SE excitation"] >= 8
    times = profile_engine(engine, np.zeros((2, 3, 32, 32), np.float32), 1, roles)
    assert times["SE scale"] > 0 and times["SE squeeze"] > 0  # ORT's QLinear kernels carry the float names


def test_the_twin_has_no_se_roles(
    tmp_path: Path, digits_models: dict[str, Path], digits_folders: dict[str, Path]
) -> None:
    engine = tmp_path / "t"
    build_int8(digits_models["resnet_tiny"], engine, digits_folders["train"], samples=8)
    assert quantized_se_roles(onnx.load(str(engine / "model.onnx"))) == {}


def _mul_graph(gate_from_pool_of_other_input: bool, excitation_length: int = 1) -> onnx.ModelProto:
    """x -> [Q, DQ] -> Mul(x, gate); the gate comes from a pool of x (an SE) or of another tensor."""
    scale, zero = numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.uint8(0), "z")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
        helper.make_node("GlobalAveragePool", ["xd" if gate_from_pool_of_other_input else "other"], ["pooled"]),
    ]
    last = "pooled"
    for index in range(excitation_length):
        nodes.append(helper.make_node("Sigmoid", [last], [f"g{index}"], name=f"sigmoid{index}"))
        last = f"g{index}"
    nodes.append(helper.make_node("Mul", ["xd", last], ["y"], name="scale"))
    nodes[2].name = "pool"
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 3, 3]) for n in ("x", "other", "y")]
    graph = helper.make_graph(nodes, "g", info[:2], info[2:], [scale, zero])
    return helper.make_model(graph)


def test_look_alikes_are_not_se_blocks() -> None:
    assert quantized_se_roles(_mul_graph(True)) == {
        "pool": "SE squeeze",
        "sigmoid0": "SE excitation",
        "scale": "SE scale",
    }
    assert quantized_se_roles(_mul_graph(False)) == {}  # the gate pools another tensor
    assert quantized_se_roles(_mul_graph(True, excitation_length=40)) == {}  # too long to be an excitation
