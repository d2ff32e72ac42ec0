"""Link 5, the gate: Sigmoid, HardSigmoid, and the written-out hard sigmoids, each spelling read as
HardSigmoid(alpha, beta) and fused exactly; one negative test per refusal."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from onnx import helper

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import add_initializer, assert_near_miss, make_runtime_input, replace_node

Step = tuple  # ("Add", 3.0) head first, ("Add", 3.0, "constant_first"), ("Clip", low, high)


def written(*steps: Step, opset: int = 17) -> Callable[[], onnx.ModelProto]:
    """An SE whose Sigmoid gate is replaced by ``steps`` on the excitation, e.g. Add 3, Clip(0, 6), Div 6."""

    def build() -> onnx.ModelProto:
        model = SEGraph(opset=opset).build()
        nodes, head = [], "fc2_out"
        for position, step in enumerate(steps):
            out = "gate" if position == len(steps) - 1 else f"g{position}"
            op = step[0]
            if op == "Clip":
                nodes.append(_clip(model, position, head, out, step[1], step[2], opset))
            else:
                value = np.asarray(step[1], dtype=np.float32)
                constant = add_initializer(model, f"k{position}", value)
                operands = [constant, head] if step[2:] == ("constant_first",) else [head, constant]
                nodes.append(helper.make_node(op, operands, [out]))
            head = out
        return replace_node(model, "gate", *nodes)

    return build


def _clip(model: onnx.ModelProto, position: int, head: str, out: str, low: object, high: object, opset: int):  # type: ignore[no-untyped-def]
    if opset < 11:
        return helper.make_node("Clip", [head], [out], min=low, max=high)
    bounds = []
    for side, bound in (("lo", low), ("hi", high)):
        if bound is None:
            bounds.append("")
            continue
        name = add_initializer(
            model, f"{side}{position}", np.asarray(0.0 if bound == "run_time" else bound, np.float32)
        )
        if bound == "run_time":
            make_runtime_input(model, name)
        bounds.append(name)
    return helper.make_node("Clip", [head, *bounds], [out])


def test_written_out_hard_sigmoid_becomes_alpha_beta() -> None:
    block = find_se_blocks(SEGraph(gate="relu6_div").build()).blocks[0]
    assert block.gate == "hard_sigmoid"
    assert block.gate_alpha == pytest.approx(1 / 6) and block.gate_beta == pytest.approx(0.5)


POSITIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str, float, float]] = {
    "sigmoid": (SEGraph().build, "sigmoid", 1 / 6, 0.5),
    "hard_sigmoid_op": (SEGraph(gate="HardSigmoid").build, "hard_sigmoid", 1 / 6, 0.5),
    "relu6_plus3_div6": (written(("Add", 3.0), ("Clip", 0.0, 6.0), ("Div", 6.0)), "hard_sigmoid", 1 / 6, 0.5),
    "three_plus_x": (
        written(("Add", 3.0, "constant_first"), ("Clip", 0.0, 6.0), ("Div", 6.0)),
        "hard_sigmoid",
        1 / 6,
        0.5,
    ),
    "x_minus_minus3": (written(("Sub", -3.0), ("Clip", 0.0, 6.0), ("Div", 6.0)), "hard_sigmoid", 1 / 6, 0.5),
    "clip_then_times_a_sixth": (
        written(("Add", 3.0), ("Clip", 0.0, 6.0), ("Mul", 1 / 6, "constant_first")),
        "hard_sigmoid",
        1 / 6,
        0.5,
    ),
    "keras_clip01": (written(("Mul", 0.2), ("Add", 0.5), ("Clip", 0.0, 1.0)), "hard_sigmoid", 0.2, 0.5),
    "x_over_6_plus_half_clip01": (written(("Div", 6.0), ("Add", 0.5), ("Clip", 0.0, 1.0)), "hard_sigmoid", 1 / 6, 0.5),
    # a second Clip composes with the first: here it is redundant
    "clip_of_clip_redundant": (
        written(("Add", 3.0), ("Clip", 0.0, 6.0), ("Div", 6.0), ("Clip", 0.0, 1.0)),
        "hard_sigmoid",
        1 / 6,
        0.5,
    ),
    "opset10_clip_attributes": (
        written(("Add", 3.0), ("Clip", 0.0, 6.0), ("Div", 6.0), opset=10),
        "hard_sigmoid",
        1 / 6,
        0.5,
    ),
}


@pytest.mark.parametrize("name", list(POSITIVE))
def test_gate_is_read_and_fuses_exactly(name: str) -> None:
    build, kind, alpha, beta = POSITIVE[name]
    model = build()
    report = find_se_blocks(model)
    assert report.near_misses == () and len(report.blocks) == 1
    block = report.blocks[0]
    assert block.gate == kind
    assert block.gate_alpha == pytest.approx(alpha) and block.gate_beta == pytest.approx(beta)
    assert compare_models(model, fuse_se(model).model).passed


ADD3, RELU6 = ("Add", 3.0), ("Clip", 0.0, 6.0)
NEGATIVE: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    # check: supported gate op
    "tanh_gate": (SEGraph(gate="Tanh").build, "expected a gate"),
    # check: HardSigmoid's alpha makes a gate
    "hard_sigmoid_nonpositive_alpha": (SEGraph(gate="HardSigmoid", hard_sigmoid_alpha=-0.5).build, "alpha"),
    # written out: constants only
    "clip_bound_at_run_time": (
        written(ADD3, ("Clip", "run_time", 6.0), ("Div", 6.0)),
        "Clip bounds of the written-out hard sigmoid are not constants",
    ),
    "vector_operand": (
        written(("Add", np.full(8, 3.0)), RELU6, ("Div", 6.0)),
        "Add in the gate does not combine the excitation with a scalar constant",
    ),
    # written out: each WRITTEN_ARITHMETIC row's refusal
    "add_after_clip": (written(ADD3, RELU6, ("Add", 1.0)), "an Add after the Clip does not form a hard sigmoid"),
    "constant_minus_x": (
        written(("Sub", 3.0, "constant_first"), RELU6, ("Div", 6.0)),
        "a Sub in the gate does not form a hard sigmoid",
    ),
    "sub_after_clip": (written(ADD3, RELU6, ("Sub", 1.0)), "a Sub in the gate does not form a hard sigmoid"),
    "constant_over_x": (
        written(ADD3, RELU6, ("Div", 6.0, "constant_first")),
        "a Div in the gate does not form a hard sigmoid",
    ),
    "divide_by_zero": (written(ADD3, RELU6, ("Div", 0.0)), "a Div in the gate does not form a hard sigmoid"),
    # written out: a Clip that maps onto [0, 1]
    "no_clip": (written(("Div", 6.0), ("Add", 0.5)), "arithmetic without a Clip/Relu6 is not a hard sigmoid"),
    "clip_not_onto_unit_interval": (SEGraph(gate="relu6_div", clip_high=5.0).build, "does not map onto [0, 1]"),
    "clip_low_not_zero": (
        written(ADD3, ("Clip", -1.0, 6.0), ("Div", 6.0)),
        "Clip(-1, 6) scaled by 0.166667 does not map onto [0, 1]",
    ),
    "negative_scale_after_clip": (written(ADD3, RELU6, ("Div", -6.0)), "does not map onto [0, 1]"),
    "clip_without_max": (written(ADD3, ("Clip", 0.0, None), ("Div", 6.0)), "Clip(0, inf)"),
    # written out: a second Clip narrows the first (relu6 clipped to [0, 0.5] is no hard sigmoid)
    "second_clip_narrows_the_first": (
        written(ADD3, ("Clip", 0.0, 0.5), ("Clip", 0.0, 1.0)),
        "Clip(0, 0.5) scaled by 1 does not map onto [0, 1]",
    ),
    "second_clip_after_scaling_twice": (
        written(ADD3, RELU6, ("Mul", 2.0), ("Clip", 0.0, 0.5)),
        "Clip(0, 0.25) scaled by 2 does not map onto [0, 1]",
    ),
    "second_clip_after_negative_scale": (
        written(ADD3, RELU6, ("Mul", -1.0), ("Clip", -6.0, 0.0)),
        "a Clip after scaling by -1 does not form a hard sigmoid",
    ),
    # written out: at most MAX_WRITTEN_NODES nodes; the fifth is left, so the Clip is not scaled onto [0, 1]
    "fifth_node_not_taken": (
        written(ADD3, RELU6, ("Mul", 1.0), ("Mul", 1.0), ("Div", 6.0)),
        "Clip(0, 6) scaled by 1 does not map onto [0, 1]",
    ),
}


@pytest.mark.parametrize("name", list(NEGATIVE))
def test_failed_check_is_a_near_miss_with_its_reason(name: str) -> None:
    build, reason = NEGATIVE[name]
    assert_near_miss(build(), "gate", reason)
