"""Concrete input shapes: --input-shape, fixed dims, se-deploy metadata, and a clear refusal otherwise."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from se_deploy import model_metadata
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_shapes import parse_input_shape, parse_input_shapes, resolve_input_shapes
from se_deploy.onnx_compare import random_inputs
from se_deploy.preprocessing import IMAGENET_224


def model_with_input(dims: list[object]) -> object:
    value = helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["images"], ["y"])], "g", [value], [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_parse() -> None:
    assert parse_input_shape("images:1x3x640x640") == ("images", (1, 3, 640, 640))
    assert parse_input_shape("a:b:2x3") == ("a:b", (2, 3))
    for bad in ("images", "images:1x3x", "images:1x-3", "images:0x3"):
        with pytest.raises(InvalidArgumentError, match="input-shape"):
            parse_input_shape(bad)
    with pytest.raises(InvalidArgumentError, match="twice"):
        parse_input_shapes(["x:1", "x:2"])


def test_minus_one_dims_are_refused_naming_the_dim() -> None:
    model = model_with_input([-1, 3, -1, -1])
    with pytest.raises(InvalidArgumentError, match=r"input 'images' dim 2 .*--input-shape images:"):
        random_inputs(model, 1, seed=0)  # used to crash: "negative dimensions are not allowed"
    feeds = random_inputs(model, 2, seed=0, shapes={"images": (1, 3, 640, 640)})
    assert feeds["images"].shape == (2, 3, 640, 640)


def test_symbolic_dims_are_not_filled_with_32() -> None:
    model = model_with_input(["N", 3, "height", "width"])
    with pytest.raises(InvalidArgumentError, match="'height'"):
        resolve_input_shapes(model)


def test_fixed_dims_and_free_batch() -> None:
    model = model_with_input(["batch", 3, 48, 320])
    assert resolve_input_shapes(model, batch=4) == {"images": (4, 3, 48, 320)}
    assert resolve_input_shapes(model) == {"images": (1, 3, 48, 320)}


def test_metadata_image_size_fills_free_spatial_dims() -> None:
    model = model_with_input(["N", 3, "H", "W"])
    model_metadata.embed(model, {"preprocessing": IMAGENET_224.for_crop(160).to_dict()})
    assert resolve_input_shapes(model, batch=2) == {"images": (2, 3, 160, 160)}


def test_override_must_agree_with_fixed_dims_and_name_an_input() -> None:
    model = model_with_input(["N", 3, 48, 320])
    with pytest.raises(InvalidArgumentError, match="fixed at 48"):
        resolve_input_shapes(model, {"images": (1, 3, 64, 320)})
    with pytest.raises(InvalidArgumentError, match="rank 4"):
        resolve_input_shapes(model, {"images": (3, 48, 320)})
    with pytest.raises(InvalidArgumentError, match="not a model input"):
        resolve_input_shapes(model, {"image": (1, 3, 48, 320)})
    assert resolve_input_shapes(model, {"images": (1, 3, 48, 320)}, batch=3) == {"images": (3, 3, 48, 320)}
