"""The fused op's ONNX function bodies against its numpy definition, for every variant."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from se_deploy.onnx_compare import session
from se_deploy.rewrite.fused_op import DOMAIN, PLUGIN_NAMESPACE, make_function, make_fused_node, reference
from se_deploy.se_variants import ACTIVATION_NAMES as ACTIVATIONS
from se_deploy.se_variants import GATE_NAMES as GATES
from se_deploy.se_variants import SE_OP, SE_RESIDUAL_OP, SEVariant

N, C, CR, H, W = 2, 12, 3, 5, 7


def single_node_model(variant: SEVariant, dtype: int, opset: int = 20) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    np_type = helper.tensor_dtype_to_np_dtype(dtype)
    weights = {
        "W1": rng.standard_normal((CR, C)).astype(np_type),
        "B1": rng.standard_normal(CR).astype(np_type),
        "W2": rng.standard_normal((C, CR)).astype(np_type),
        "B2": rng.standard_normal(C).astype(np_type),
    }
    inputs = ["X", "W1", "B1", "W2", "B2"] + (["R"] if variant.residual else [])
    node = make_fused_node(inputs, "Y", variant, name="se")
    graph_inputs = [helper.make_tensor_value_info("X", dtype, [N, C, H, W])]
    if variant.residual:
        graph_inputs.append(helper.make_tensor_value_info("R", dtype, [N, C, H, W]))
    graph = helper.make_graph(
        [node],
        "g",
        graph_inputs,
        [helper.make_tensor_value_info("Y", dtype, [N, C, H, W])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(DOMAIN, 1)],
        functions=[make_function(variant, opset)],
    )
    model.ir_version = 10
    return model, weights


VARIANTS = [
    SEVariant(activation=a, gate=g, activation_alpha=0.1, gate_alpha=0.2, gate_beta=0.4)
    for a, g in itertools.product(ACTIVATIONS, GATES)
] + [SEVariant(residual=True, residual_activation=r) for r in ("relu", "none")]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.op_type}-{v.body_key}")
@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.FLOAT16], ids=["fp32", "fp16"])
def test_function_body_computes_the_reference(variant: SEVariant, dtype: int) -> None:
    model, weights = single_node_model(variant, dtype)
    onnx.checker.check_model(model, full_check=True)
    rng = np.random.default_rng(1)
    np_type = helper.tensor_dtype_to_np_dtype(dtype)
    feeds = {"X": rng.standard_normal((N, C, H, W)).astype(np_type)}
    if variant.residual:
        feeds["R"] = rng.standard_normal((N, C, H, W)).astype(np_type)
    (got,) = session(model).run(["Y"], feeds)
    want = reference(feeds["X"], *weights.values(), variant, feeds.get("R"))
    tolerance = 1e-2 if dtype == TensorProto.FLOAT16 else 1e-5
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=tolerance, rtol=tolerance)


def test_node_carries_the_plugin_mapping() -> None:
    node = make_fused_node(["X", "a", "b", "c", "d"], "Y", SEVariant(), name="n")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert (node.domain, node.op_type) == (DOMAIN, SE_OP)
    assert attrs["plugin_namespace"] == PLUGIN_NAMESPACE.encode()
    assert attrs["activation"] == b"relu" and attrs["gate"] == b"sigmoid"
    residual = make_fused_node(["X", "a", "b", "c", "d", "R"], "Y", SEVariant(residual=True), name="r")
    assert residual.op_type == SE_RESIDUAL_OP


def test_bad_variants_and_arity_are_refused() -> None:
    with pytest.raises(ValueError, match="activation"):
        SEVariant(activation="tanh")
    with pytest.raises(ValueError, match="gate"):
        SEVariant(gate="softmax")
    with pytest.raises(ValueError, match="takes 5 inputs"):
        make_fused_node(["X"], "Y", SEVariant(), name="n")
    with pytest.raises(ValueError, match="opset >= 20"):
        make_function(SEVariant(activation="gelu"), 18)


@pytest.mark.parametrize("opset", [11, 13, 14])
def test_hard_swish_body_before_opset_14_is_written_out(opset: int) -> None:
    variant = SEVariant(activation="hard_swish", gate="hard_sigmoid", gate_alpha=0.2, gate_beta=0.5)
    model, weights = single_node_model(variant, TensorProto.FLOAT, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    body_ops = {node.op_type for node in model.functions[0].node}
    assert ("HardSwish" in body_ops) == (opset >= 14)
    feeds = {"X": np.random.default_rng(1).standard_normal((N, C, H, W)).astype(np.float32)}
    (got,) = session(model).run(["Y"], feeds)
    np.testing.assert_allclose(got, reference(feeds["X"], *weights.values(), variant), atol=1e-5, rtol=1e-5)
