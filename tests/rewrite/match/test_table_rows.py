"""Every ONNX op a row of the SE variant table names (``se_variants``: ``onnx_ops``) is read by the matcher as
that row, with its parameters, and fuses to the same numbers under ONNX Runtime; and every row is matched."""

from __future__ import annotations

import onnx
import pytest
from onnx import helper

from se_deploy.onnx_compare import compare_models
from se_deploy.rewrite.match import find_se_blocks
from se_deploy.rewrite.match.activation import ACTIVATION_OPS, SELF_GATES
from se_deploy.rewrite.match.gate import GATE_OPS
from se_deploy.rewrite.surgery import fuse_se
from se_deploy.se_variants import (
    ACTIVATION_NAMES,
    ACTIVATIONS,
    DEFAULT_VARIANT,
    GATE_NAMES,
    GATES,
    SE_OP,
    Activation,
    Gate,
    OnnxOp,
)
from tests.rewrite.graphs import SEGraph
from tests.rewrite.match.edits import node_writing, replace_node

SPELLINGS = [(row, op) for row in (*ACTIVATIONS, *GATES) for op in row.onnx_ops]
IDS = [f"{row.name}-{op.op_type}" for row, op in SPELLINGS]
WRITTEN_GATES = {"hard_sigmoid"}  # gate.py's WRITTEN_ARITHMETIC: relu6(x + 3) / 6 and kin


def _opset(row: Activation | Gate) -> int:
    return max(17, row.min_opset) if isinstance(row, Activation) else 17


def _onnx_default(op: OnnxOp, op_attribute: str, opset: int) -> float:
    """The attribute's default in the ONNX spec (not the table's)."""
    return float(
        helper.get_attribute_value(onnx.defs.get_schema(op.op_type, opset).attributes[op_attribute].default_value)
    )


def _attributes(op: OnnxOp, *, explicit: bool) -> dict[str, float]:
    """The op's parameters set away from their defaults (a parameter read wrongly or dropped shows), or left out."""
    return {op_attribute: default + 0.125 for _, op_attribute, default in op.parameters} if explicit else {}


def _model(row: Activation | Gate, op: OnnxOp, attributes: dict[str, float]) -> onnx.ModelProto:
    if isinstance(row, Activation):
        model = SEGraph(activation=op.op_type, opset=_opset(row)).build()
        node_writing(model, "act").attribute.extend(helper.make_attribute(k, v) for k, v in attributes.items())
        return model
    return replace_node(SEGraph().build(), "gate", helper.make_node(op.op_type, ["fc2_out"], ["gate"], **attributes))


@pytest.mark.parametrize(("row", "op"), SPELLINGS, ids=IDS)
@pytest.mark.parametrize("explicit", [True, False], ids=["set", "defaults"])
def test_every_onnx_op_of_the_table_is_matched_and_fuses_exactly(
    row: Activation | Gate, op: OnnxOp, explicit: bool
) -> None:
    attributes = _attributes(op, explicit=explicit)
    model = _model(row, op, attributes)
    report = find_se_blocks(model)
    assert report.near_misses == () and len(report.blocks) == 1, report
    block = report.blocks[0]
    read = {
        fused: attributes.get(op_attribute) or _onnx_default(op, op_attribute, _opset(row))
        for fused, op_attribute, _ in op.parameters
    }
    if isinstance(row, Activation):
        assert block.activation == row.name
        assert block.activation_alpha == pytest.approx(read.get("activation_alpha", 0.0))
    else:
        assert block.gate == row.name
        assert block.gate_alpha == pytest.approx(read.get("gate_alpha", DEFAULT_VARIANT.gate_alpha))
        assert block.gate_beta == pytest.approx(read.get("gate_beta", DEFAULT_VARIANT.gate_beta))
    fused = fuse_se(model).model
    assert [node.op_type for node in fused.graph.node] == [SE_OP]
    assert compare_models(model, fused).passed


def test_every_row_is_matched_by_its_onnx_ops_or_a_written_out_form() -> None:
    activation_ops = [op.op_type for row in ACTIVATIONS for op in row.onnx_ops]
    gate_ops = [op.op_type for row in GATES for op in row.onnx_ops]
    # one row per op, and the matcher reads exactly the table's ops, each as its row
    assert len(set(activation_ops)) == len(activation_ops) and len(set(gate_ops)) == len(gate_ops)
    assert list(ACTIVATION_OPS) == activation_ops and list(GATE_OPS) == gate_ops
    for row in ACTIVATIONS:
        assert all(ACTIVATION_OPS[op.op_type] == (row, op) for op in row.onnx_ops), row.name
    for row in GATES:
        assert all(GATE_OPS[op.op_type] == (row, op) for op in row.onnx_ops), row.name
    for row, op in SPELLINGS:  # the table's defaults are ONNX's
        for _, op_attribute, default in op.parameters:
            assert default == pytest.approx(_onnx_default(op, op_attribute, _opset(row))), (row.name, op_attribute)
    # a row no ONNX op spells must be one the matcher reads written out, else no graph can reach it
    assert {row.name for row, _ in ACTIVATION_OPS.values()} | set(SELF_GATES.values()) == set(ACTIVATION_NAMES)
    assert {row.name for row, _ in GATE_OPS.values()} | WRITTEN_GATES == set(GATE_NAMES)
