"""Verification that can fail: a wrong fusion hidden behind saturated outputs is caught on the shared
intermediate tensors, and inputs are image-like at the model's real size."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from se_deploy.onnx_compare import compare_models, random_inputs
from se_deploy.rewrite.surgery import fuse_se
from tests.rewrite.foreign_graphs import ForeignSE


def saturating_detector() -> onnx.ModelProto:
    """An SE network whose score map is sigmoid(head - 40): ~0 everywhere on any input (a detector
    with no object in view), with symbolic H and W."""
    model = ForeignSE(gate="sigmoid").build()
    graph = model.graph
    features = graph.output[0].name
    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((1, 8, 1, 1)) * 0.1).astype(np.float32)
    graph.initializer.extend(
        [numpy_helper.from_array(weight, "score_w"), numpy_helper.from_array(np.array([-40.0], np.float32), "score_b")]
    )
    graph.node.extend(
        [
            helper.make_node("Conv", [features, "score_w", "score_b"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["score"]),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1, "H", "W"]))
    graph.input[0].CopyFrom(helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, "H", "W"]))
    return model


def wrongly_fused(model: onnx.ModelProto) -> onnx.ModelProto:
    """The fused model with the excitation's bias negated: a matcher bug that changes every SE output."""
    fused = fuse_se(model).model
    node = next(n for n in fused.graph.node if n.domain == "se_deploy")
    b2 = next(i for i in fused.graph.initializer if i.name == node.input[4])
    b2.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(b2) - 1.0, b2.name))
    return fused


def test_saturated_outputs_hide_a_wrong_fusion_that_intermediates_catch() -> None:
    model = saturating_detector()
    bad = wrongly_fused(model)
    shapes = {"X": (1, 3, 32, 32)}
    outputs_only = compare_models(model, bad, shapes=shapes)
    assert outputs_only.passed  # what verification used to be: it proves nothing here
    full = compare_models(model, bad, shapes={"X": (1, 3, 64, 96)}, seeds=2, intermediates=True)
    assert not full.passed
    worst = full.worst
    assert worst is not None and worst.kind == "intermediate" and worst.relative_error > 0.01
    assert compare_models(model, fuse_se(model).model, shapes=shapes, seeds=2, intermediates=True).passed


def test_inputs_are_image_like_at_the_given_shape() -> None:
    feeds = random_inputs(saturating_detector(), 2, seed=0, shapes={"X": (1, 3, 48, 320)})
    image = feeds["X"]
    assert image.shape == (2, 3, 48, 320) and image.dtype == np.float32
    # ImageNet-normalized [0, 1] pixels, spatially smooth (neighbours correlate, unlike white noise).
    assert image.min() >= (0 - 0.45) / 0.225 - 1e-6 and image.max() <= (1 - 0.45) / 0.225 + 1e-6
    neighbours = np.corrcoef(image[..., :-1].ravel(), image[..., 1:].ravel())[0, 1]
    assert neighbours > 0.5
    other = random_inputs(saturating_detector(), 2, seed=1, shapes={"X": (1, 3, 48, 320)})["X"]
    assert not np.allclose(image, other)
