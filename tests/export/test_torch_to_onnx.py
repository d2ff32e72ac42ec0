"""torch -> ONNX export on the tiny models, with both exporters (each export checked and verified)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import pytest
import torch

from se_deploy.errors import InvalidArgumentError
from se_deploy.export.torch_to_onnx import export_onnx, validate_export_options
from se_deploy.export.verify import check_onnx, verify_onnx
from se_deploy.models import create_model


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_exported_model_matches_torch_at_two_batch_sizes(tmp_path: Path, exporter: str) -> None:
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny")
    path = tmp_path / "m.onnx"
    export_onnx(model, path, image_size=32, exporter=exporter, opset=18 if exporter == "dynamo" else 17)
    proto = check_onnx(path)
    ops = Counter(node.op_type for node in proto.graph.node)
    assert ops["BatchNormalization"] == 0  # folded into the convs
    assert ops["Sigmoid"] == 4  # one gate per SE block
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    result = verify_onnx(path, model, image_size=32, batches=(1, 7))
    assert result.passed and [c.batch for c in result.checks] == [1, 7]
    assert result.max_abs_error < 1e-4
    assert all(c.top1_agreement == 1.0 for c in result.checks)


def test_fixed_batch_export(tmp_path: Path) -> None:
    model = create_model("resnet_tiny_basic")
    path = tmp_path / "fixed.onnx"
    export_onnx(model, path, image_size=40, batch=3)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [3, 3, 40, 40]
    assert verify_onnx(path, model, image_size=40, batches=(3,)).passed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exporter": "jit"}, "unknown exporter"),
        ({"opset": 12}, "opset 12 is not supported by the dynamo exporter"),
        ({"batch": 0}, "positive integer"),
        ({"image_size": 16}, "too small"),
        ({"image_size": 10_000}, "larger than"),
    ],
)
def test_bad_export_options(kwargs: dict, message: str) -> None:
    options = {"exporter": "dynamo", "opset": 18, "batch": None, "image_size": 224, "min_image_size": 32} | kwargs
    with pytest.raises(InvalidArgumentError, match=message):
        validate_export_options(**options)


def test_an_exporter_error_caused_by_ctrl_c_is_an_interrupt_not_an_export_failure(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def wrapped_interrupt(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Failed to export the model with torch.export") from exc

    monkeypatch.setattr(torch.onnx, "export", wrapped_interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(torch.nn.Identity(), Path("unused.onnx"), image_size=32, batch=None, opset=18, exporter="dynamo")
