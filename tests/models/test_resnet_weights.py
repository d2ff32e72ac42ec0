"""Key mapping from the public SE-ResNet checkpoint layouts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from se_deploy.errors import WeightsError
from se_deploy.models import create_model
from se_deploy.models.checkpoint import load_pretrained
from se_deploy.models.registry import get_spec
from se_deploy.models.resnet_weights import CADENE, TORCHVISION, detect_layout, rename_cadene_keys


def to_cadene_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What Cadene's pretrainedmodels / timm legacy_seresnet name the same weights."""
    out = {}
    for key, value in state_dict.items():
        key = re.sub(r"^conv1\.", "layer0.conv1.", key)
        key = re.sub(r"^bn1\.", "layer0.bn1.", key)
        key = key.replace(".se.", ".se_module.")
        key = re.sub(r"^fc\.", "last_linear.", key)
        out[key] = value
    return out


def test_cadene_names_round_trip() -> None:
    state = create_model("se_resnet_tiny").state_dict()
    cadene = to_cadene_layout(state)
    assert "layer0.conv1.weight" in cadene and "layer1.0.se_module.fc1.weight" in cadene
    assert detect_layout(cadene) == CADENE and detect_layout(state) == TORCHVISION
    assert rename_cadene_keys(cadene).keys() == state.keys()


def test_cadene_checkpoint_gives_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = create_model("se_resnet_tiny")
    path = tmp_path / "cadene.pth"
    torch.save(to_cadene_layout(source.state_dict()), path)
    model, info = load_pretrained(get_spec("se_resnet_tiny"), path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
    assert info.layout == CADENE


@pytest.fixture(scope="module")
def resnet18_state() -> dict[str, torch.Tensor]:
    return create_model("se_resnet18").state_dict()


def test_cadene_weights_are_refused_by_the_torchvision_placement(tmp_path: Path, resnet18_state) -> None:
    path = tmp_path / "legacy_seresnet18.pth"
    torch.save(to_cadene_layout(resnet18_state), path)
    with pytest.raises(WeightsError, match="Use --model se_resnet18 instead"):
        create_model("se_resnet18_tv", pretrained=path)
    assert create_model("se_resnet18", pretrained=path) is not None


def test_torchvision_style_keys_in_caffe_model_leave_a_note(tmp_path: Path, resnet18_state) -> None:
    path = tmp_path / "seresnet18.pth"
    torch.save(resnet18_state, path)
    _model, info = load_pretrained(get_spec("se_resnet18"), path)
    assert info.layout == TORCHVISION
    assert any("se_resnet18_tv" in note for note in info.notes)
    _model, info = load_pretrained(get_spec("se_resnet18_tv"), path)
    assert info.notes == ()


def test_cadene_se_resnext_weights_need_the_caffe_stem(tmp_path: Path) -> None:
    torch.manual_seed(4)
    source = create_model("se_resnext50_32x4d")
    path = tmp_path / "se_resnext50_32x4d.pth"
    torch.save(to_cadene_layout(source.state_dict()), path)
    model = create_model("se_resnext50_32x4d", pretrained=path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
    with pytest.raises(WeightsError, match="Use --model se_resnext50_32x4d instead"):
        create_model("se_resnext50_32x4d_tv", pretrained=path)
