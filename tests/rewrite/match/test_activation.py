"""Link 3, the activation: each table row and written-out form matches and fuses exactly; one negative
test per refusal."""

from __future__ import annotations

from collections.abc import Callable

import onnx
import pytest
from onnx import helper

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import assert_near_miss, node_writing, replace_node


def _with(spec: SEGraph, **attributes: object) -> Callable[[], onnx.ModelProto]:
    def build() -> onnx.ModelProto:
        model = spec.build()
        node_writing(model, "act").attribute.extend(helper.make_attribute(k, v) for k, v in attributes.items())
        return model

    return build


def _hard_swish_written(alpha: float) -> Callable[[], onnx.ModelProto]:
    def build() -> onnx.ModelProto:
        return replace_node(
            SEGraph().build(),
            "act",
            helper.make_node("HardSigmoid", ["fc1_out"], ["hs"], alpha=alpha, beta=0.5),
            helper.make_node("Mul", ["hs", "fc1_out"], ["act"]),
        )

    return build


def _custom_domain_relu() -> onnx.ModelProto:
    model = SEGraph().build()
    node_writing(model, "act").domain = "custom"
    return model


POSITIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str, float]] = {
    "relu": (SEGraph().build, "relu", 0.0),
    "leaky_relu_slope": (_with(SEGraph(activation="LeakyRelu"), alpha=0.3), "leaky_relu", 0.3),
    "hard_swish_op": (SEGraph(activation="HardSwish").build, "hard_swish", 0.0),
    "gelu": (SEGraph(activation="Gelu", opset=20).build, "gelu", 0.0),
    "silu_written_out": (SEGraph(activation="SiLU").build, "silu", 0.0),
    "hard_swish_written_out": (_hard_swish_written(1 / 6), "hard_swish", 0.0),
}


@pytest.mark.parametrize("name", list(POSITIVE))
def test_activation_is_read_and_fuses_exactly(name: str) -> None:
    build, kind, alpha = POSITIVE[name]
    model = build()
    report = find_se_blocks(model)
    assert report.near_misses == () and len(report.blocks) == 1
    block = report.blocks[0]
    assert block.activation == kind and block.activation_alpha == pytest.approx(alpha)
    assert compare_models(model, fuse_se(model).model).passed


NEGATIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str, str]] = {
    # check: supported activation
    "tanh_activation": (SEGraph(activation="Tanh").build, "activation", "unsupported activation"),
    "custom_domain_relu": (
        _custom_domain_relu,
        "activation",
        "unsupported activation between the FC layers: custom::Relu",
    ),
    # check: attributes the fused op can express
    "gelu_tanh_approximation": (
        _with(SEGraph(activation="Gelu", opset=20), approximate="tanh"),
        "activation",
        "tanh-approximated Gelu is not supported by the fused op",
    ),
    # h * HardSigmoid(h) is hard swish only with alpha 1/6, beta 1/2; else h has two readers
    "written_hard_swish_keras_alpha": (_hard_swish_written(0.2), "activation", "read by 2 nodes"),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_failed_check_is_a_near_miss_with_its_reason(name: str) -> None:
    build, stage, reason = NEGATIVE[name]
    assert_near_miss(build(), stage, reason)
