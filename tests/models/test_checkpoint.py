from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from se_deploy.errors import WeightsError
from se_deploy.models import create_model, get_spec
from se_deploy.models.checkpoint import load_pretrained, read_checkpoint, unwrap_state_dict

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _reference(path: Path) -> torch.Tensor:
    model = create_model("se_resnet_tiny")
    model.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        return model(X)


def _outputs(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(X)


def test_plain_state_dict_loads_exactly(tiny_weights: Path) -> None:
    model = create_model("se_resnet_tiny", pretrained=tiny_weights)
    torch.testing.assert_close(_outputs(model), _reference(tiny_weights), rtol=0, atol=0)


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state_dict"])
def test_training_checkpoints_with_module_prefix_are_unwrapped(
    tmp_path: Path, tiny_weights: Path, wrapper: str
) -> None:
    state = torch.load(tiny_weights, weights_only=True)
    path = tmp_path / "wrapped.pt"
    torch.save({wrapper: {f"module.{k}": v for k, v in state.items()}, "epoch": 90}, path)
    model = create_model("se_resnet_tiny", pretrained=path)
    torch.testing.assert_close(_outputs(model), _reference(tiny_weights), rtol=0, atol=0)


def test_safetensors_loads(tmp_path: Path, tiny_weights: Path) -> None:
    state = torch.load(tiny_weights, weights_only=True)
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = create_model("se_resnet_tiny", pretrained=path)
    torch.testing.assert_close(_outputs(model), _reference(tiny_weights), rtol=0, atol=0)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pth")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_corrupt_file_is_reported(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(b"\x00not a checkpoint at all" * 10)
    with pytest.raises(WeightsError, match="cannot read"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_reported(tmp_path: Path, tiny_weights: Path) -> None:
    data = tiny_weights.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="cannot read"):
        read_checkpoint(path)


class _Payload:
    """An arbitrary object: weights_only loading must refuse to unpickle it."""


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "obj": _Payload()}, path)
    with pytest.raises(WeightsError, match="refusing to load"):
        read_checkpoint(path)


def test_no_state_dict_inside_is_reported() -> None:
    with pytest.raises(WeightsError, match="no state dict found"):
        unwrap_state_dict({"epoch": 3, "optimizer": "adam"}, "x.pth")
    with pytest.raises(WeightsError, match="not a state dict"):
        unwrap_state_dict([1, 2, 3], "x.pth")


def test_foreign_weights_list_missing_unexpected_and_mismatched_keys(tmp_path: Path, tiny_weights: Path) -> None:
    state = torch.load(tiny_weights, weights_only=True)
    state.pop("layer1.0.conv1.weight")
    state["head.extra.weight"] = torch.zeros(3)
    state["layer2.0.conv2.weight"] = torch.zeros(1, 1, 3, 3)
    path = tmp_path / "foreign.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        create_model("se_resnet_tiny", pretrained=path)
    message = str(info.value)
    assert "missing keys: layer1.0.conv1.weight" in message
    assert "unexpected keys: head.extra.weight" in message
    assert "shape mismatch keys: layer2.0.conv2.weight" in message


def test_plain_resnet_weights_into_se_model_point_to_the_twin(tmp_path: Path) -> None:
    path = tmp_path / "plain.pth"
    torch.save(create_model("resnet_tiny").state_dict(), path)
    with pytest.raises(WeightsError, match="use --model resnet_tiny"):
        create_model("se_resnet_tiny", pretrained=path)


def test_num_classes_follows_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "three.pth"
    torch.save(create_model("se_resnet_tiny", num_classes=3).state_dict(), path)
    model, info = load_pretrained(get_spec("se_resnet_tiny"), path)
    assert model.fc.out_features == 3
    assert len(info.sha256) == 64
    with pytest.raises(WeightsError, match="3-class classifier"):
        load_pretrained(get_spec("se_resnet_tiny"), path, num_classes=10)


def test_other_se_reduction_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "r8.pth"
    torch.save(create_model("se_resnet_tiny", se_reduction=8).state_dict(), path)
    with pytest.raises(WeightsError, match="pass --se-reduction 8"):
        create_model("se_resnet_tiny", pretrained=path)
    assert create_model("se_resnet_tiny", pretrained=path, se_reduction=8) is not None
