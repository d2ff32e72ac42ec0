"""Inception-ResNet-v2: the released (TF-slim) network with timm's names, SE on residual branches, 299 input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from se_deploy.errors import InvalidArgumentError
from se_deploy.export.job import ExportRequest, run_export
from se_deploy.models import create_model, get_spec
from se_deploy.models.catalog import summarize
from se_deploy.models.checkpoint import load_pretrained


def test_names_and_shapes_are_timms() -> None:
    with torch.device("meta"):
        state = create_model("inception_resnet_v2").state_dict()
    # Shapes read off timm's inception_resnet_v2.py; only the classifier is renamed (timm: classif).
    expected = {
        "conv2d_1a.conv.weight": (32, 3, 3, 3),
        "conv2d_4a.bn.running_mean": (192,),
        "mixed_5b.branch3.1.conv.weight": (64, 192, 1, 1),
        "repeat.9.conv2d.bias": (320,),
        "mixed_6a.branch1.2.conv.weight": (384, 256, 3, 3),
        "repeat_1.19.branch1.1.conv.weight": (160, 128, 1, 7),
        "mixed_7a.branch2.2.conv.weight": (320, 288, 3, 3),
        "repeat_2.8.branch1.2.conv.weight": (256, 224, 3, 1),
        "block8.conv2d.weight": (2080, 448, 1, 1),
        "conv2d_7b.conv.weight": (1536, 2080, 1, 1),
        "fc.weight": (1000, 1536),
    }
    assert {k: tuple(state[k].shape) for k in expected} == expected
    assert len([k for k in state if k.startswith("repeat_2.")]) > 0 and "repeat_2.9.conv2d.weight" not in state
    assert summarize(get_spec("inception_resnet_v2")).params == 55_843_464


def test_se_sits_before_the_residual_scale() -> None:
    torch.manual_seed(0)
    model = create_model("se_inception_resnet_v2_tiny")
    block = model.repeat[0]
    seen = {}
    block.se.register_forward_hook(lambda _m, inputs, output: seen.update(x=inputs[0], y=output))
    x = torch.randn(1, block.conv2d.out_channels, 9, 9)
    with torch.no_grad():
        out = block(x)
    torch.testing.assert_close(out, torch.relu(seen["y"] * 0.17 + x))
    assert [type(b).__name__ for b in (model.repeat[0], model.repeat_1[0], model.block8)] == [
        "Block35",
        "Block17",
        "Block8",
    ]
    assert model.block8.relu is None and model.block8.scale == 1.0


def test_timm_and_cadene_classifier_names_load(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = create_model("inception_resnet_v2_tiny")
    x = torch.randn(1, 3, 75, 75)
    for name, layout in (("classif", "timm"), ("last_linear", "cadene")):
        path = tmp_path / f"{name}.pth"
        torch.save(
            {k.replace("fc.", f"{name}.") if k.startswith("fc.") else k: v for k, v in source.state_dict().items()},
            path,
        )
        model, info = load_pretrained(get_spec("inception_resnet_v2_tiny"), path)
        with torch.no_grad():
            torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
        assert info.layout == layout


def test_too_small_an_input_is_refused_with_the_minimum(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="75x75"):
        run_export(ExportRequest(model="se_inception_resnet_v2_tiny", output=tmp_path, image_size=64))
    assert not any(tmp_path.iterdir())
