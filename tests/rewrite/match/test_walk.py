"""The walk between links: an SE's inner values have exactly one reader and are not graph outputs."""

from __future__ import annotations

from onnx import helper

from se_deploy.rewrite.match import find_se_blocks
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import add_output, assert_near_miss, node_writing


def test_inner_value_read_twice_is_a_near_miss() -> None:
    # check: inner values have one reader
    assert_near_miss(SEGraph(extra_reader_of_hidden=True).build(), "activation", "read by 2 nodes")


def test_inner_value_that_is_a_graph_output_is_a_near_miss() -> None:
    model = add_output(SEGraph().build(), "gate")
    assert_near_miss(model, "scale", "'gate' is also a graph output, so it cannot be fused away")


def test_inner_value_read_by_nothing_is_a_near_miss() -> None:
    model = SEGraph().build()
    model.graph.node.remove(node_writing(model, "Y"))
    del model.graph.output[:]
    add_output(model, "gate")
    assert_near_miss(model, "scale", "'gate' is not read by any node")


def test_views_between_links_are_taken_into_the_block() -> None:
    model = SEGraph().build()
    mul = node_writing(model, "Y")
    mul.input[1] = "gate_view"
    model.graph.node.insert(len(model.graph.node) - 1, helper.make_node("Identity", ["gate"], ["gate_view"]))
    block = find_se_blocks(model).blocks[0]
    assert len(block.nodes) == len(model.graph.node)
