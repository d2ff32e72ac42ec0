"""SENet-154: structure as the authors' / Cadene's / timm's legacy_senet154, and their checkpoint keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from se_deploy.errors import WeightsError
from se_deploy.models import create_model, get_spec
from se_deploy.models.catalog import summarize
from se_deploy.models.checkpoint import load_pretrained
from se_deploy.models.senet import SENetBottleneck


def legacy_senet_shapes(
    *, layers: tuple[int, ...], width: int, groups: int, num_classes: int, reduction: int = 16, se: bool = True
) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a Cadene / timm ``legacy_senet154``-style state dict, written from timm's senet.py
    (``SENet(SEBottleneck, groups=64, inplanes=128, input_3x3=True, downsample_kernel_size=3)``), not from
    the zoo's code, so a naming or width mistake in either shows up."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, channels: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (channels,)

    inplanes = width * 2
    for index, (cin, cout) in enumerate(((3, width), (width, width), (width, inplanes)), start=1):
        shapes[f"layer0.conv{index}.weight"] = (cout, cin, 3, 3)
        bn(f"layer0.bn{index}", cout)
    for stage, blocks in enumerate(layers):
        planes = width * 2**stage
        for block in range(blocks):
            p = f"layer{stage + 1}.{block}"
            shapes[f"{p}.conv1.weight"] = (planes * 2, inplanes, 1, 1)
            bn(f"{p}.bn1", planes * 2)
            shapes[f"{p}.conv2.weight"] = (planes * 4, planes * 2 // groups, 3, 3)
            bn(f"{p}.bn2", planes * 4)
            shapes[f"{p}.conv3.weight"] = (planes * 4, planes * 4, 1, 1)
            bn(f"{p}.bn3", planes * 4)
            if se:
                hidden = planes * 4 // reduction
                shapes[f"{p}.se_module.fc1.weight"] = (hidden, planes * 4, 1, 1)
                shapes[f"{p}.se_module.fc1.bias"] = (hidden,)
                shapes[f"{p}.se_module.fc2.weight"] = (planes * 4, hidden, 1, 1)
                shapes[f"{p}.se_module.fc2.bias"] = (planes * 4,)
            if block == 0:
                kernel = 1 if stage == 0 else 3
                shapes[f"{p}.downsample.0.weight"] = (planes * 4, inplanes, kernel, kernel)
                bn(f"{p}.downsample.1", planes * 4)
            inplanes = planes * 4
    shapes["last_linear.weight"] = (num_classes, inplanes)
    shapes["last_linear.bias"] = (num_classes,)
    return shapes


def test_full_senet154_has_exactly_the_legacy_senet154_keys_and_shapes() -> None:
    from se_deploy.models.resnet_weights import rename_cadene_keys

    with torch.device("meta"):
        model = create_model("senet154")
    legacy = legacy_senet_shapes(layers=(3, 8, 36, 3), width=64, groups=64, num_classes=1000)
    renamed = rename_cadene_keys(dict.fromkeys(legacy))
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert ours == {new: legacy[old] for old, new in zip(legacy, renamed, strict=True)}
    learned = [torch.Size(shape).numel() for key, shape in legacy.items() if "running_" not in key]
    assert summarize(get_spec("senet154")).params == sum(learned) == 115_088_984


def test_senet154_structure() -> None:
    with torch.device("meta"):
        model = create_model("senet154")
    assert [model.conv1.out_channels, model.conv2.out_channels, model.conv3.out_channels] == [64, 64, 128]
    assert model.maxpool.ceil_mode and model.maxpool.padding == 0
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3, model.layer4)] == [3, 8, 36, 3]
    block = model.layer2[0]
    assert isinstance(block, SENetBottleneck)
    assert block.conv2.groups == 64 and block.conv2.stride == (2, 2) and block.conv1.stride == (1, 1)
    assert block.downsample[0].kernel_size == (3, 3) and model.layer1[0].downsample[0].kernel_size == (1, 1)
    assert block.se.hidden == 512 // 16


def test_twin_is_the_same_network_without_se() -> None:
    se = create_model("senet_tiny")
    twin = create_model("senet_tiny_no_se")
    se_keys = {k for k in se.state_dict() if ".se." not in k}
    assert se_keys == set(twin.state_dict())
    assert summarize(get_spec("senet154")).params - summarize(get_spec("senet154_no_se")).params == 6_629_040


def _save_legacy(tmp_path: Path, model: torch.nn.Module) -> Path:
    import re

    state = {}
    for key, value in model.state_dict().items():
        key = re.sub(r"^((?:conv|bn)\d)\.", r"layer0.\1.", key)
        state[re.sub(r"^fc\.", "last_linear.", key).replace(".se.", ".se_module.")] = value
    path = tmp_path / "legacy_senet.pth"
    torch.save(state, path)
    return path


def test_legacy_checkpoint_loads_with_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(4)
    source = create_model("senet_tiny")
    path = _save_legacy(tmp_path, source)
    legacy_keys = set(torch.load(path, weights_only=True))
    expected = legacy_senet_shapes(layers=(1, 1, 1, 1), width=8, groups=4, num_classes=10, reduction=16)
    assert legacy_keys - {k for k in legacy_keys if k.endswith("num_batches_tracked")} == set(expected)
    model, info = load_pretrained(get_spec("senet_tiny"), path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=0, atol=0)
    assert info.layout == "cadene"


def test_plain_checkpoint_into_senet_names_the_twin(tmp_path: Path) -> None:
    path = tmp_path / "plain.pth"
    torch.save(create_model("senet_tiny_no_se").state_dict(), path)
    with pytest.raises(WeightsError, match="use --model senet_tiny_no_se"):
        create_model("senet_tiny", pretrained=path)
