"""Edits of a built ``SEGraph`` model that break one check of one link, and the near miss they must give."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from se_deploy.rewrite.match import NearMiss, find_se_blocks


def node_writing(model: onnx.ModelProto, output: str) -> onnx.NodeProto:
    return next(node for node in model.graph.node if output in node.output)


def replace_initializer(model: onnx.ModelProto, name: str, value: np.ndarray) -> onnx.ModelProto:
    for position, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[position].CopyFrom(numpy_helper.from_array(np.asarray(value), name))
            return model
    raise KeyError(name)


def add_initializer(model: onnx.ModelProto, name: str, value: np.ndarray) -> str:
    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    return name


def make_runtime_input(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """Turn the initializer ``name`` into a graph input of the same shape: a value known only at run time."""
    init = next(i for i in model.graph.initializer if i.name == name)
    model.graph.input.append(helper.make_tensor_value_info(name, init.data_type, list(init.dims)))
    model.graph.initializer.remove(init)
    return model


def add_output(model: onnx.ModelProto, name: str, elem_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
    model.graph.output.append(helper.make_tensor_value_info(name, elem_type, None))
    return model


def replace_node(model: onnx.ModelProto, output: str, *new: onnx.NodeProto) -> onnx.ModelProto:
    """Put ``new`` where the node writing ``output`` was (the last new node should write ``output``)."""
    old = node_writing(model, output)
    position = list(model.graph.node).index(old)
    model.graph.node.remove(old)
    for offset, node in enumerate(new):
        model.graph.node.insert(position + offset, node)
    return model


def the_near_miss(model: onnx.ModelProto) -> NearMiss:
    """The one near miss of a model with one SE candidate and no match."""
    report = find_se_blocks(model)
    assert report.blocks == ()
    assert len(report.near_misses) == 1, report
    return report.near_misses[0]


def assert_near_miss(model: onnx.ModelProto, stage: str, reason: str) -> None:
    miss = the_near_miss(model)
    assert miss.stage == stage and reason in miss.reason, miss
