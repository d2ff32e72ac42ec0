from __future__ import annotations

import pytest
import torch

from se_deploy.models.resnet import build_resnet


def _shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("depth", [18, 50])
def test_twin_is_the_se_model_minus_its_se_blocks(depth: int) -> None:
    with torch.device("meta"):
        se_model = build_resnet(depth, se=True)
        twin = build_resnet(depth, se=False)
    se_shapes, twin_shapes = _shapes(se_model), _shapes(twin)
    assert {k: v for k, v in se_shapes.items() if ".se." not in k} == twin_shapes
    se_keys = [k for k in se_shapes if ".se." in k]
    assert len(se_keys) == 4 * sum(len(getattr(se_model, f"layer{i}")) for i in range(1, 5))


def test_se_sits_before_the_residual_addition() -> None:
    model = build_resnet(50, se=True, width=8, layers=(1, 1, 1, 1), num_classes=10).eval()
    block = model.layer1[0]
    # With the SE gate forced to zero, the block's output is relu(shortcut) alone.
    torch.nn.init.zeros_(block.se.fc2.weight)
    torch.nn.init.constant_(block.se.fc2.bias, -1e4)
    x = torch.randn(1, 8, 9, 9)
    torch.testing.assert_close(block(x), torch.relu(block.downsample(x)))


def test_stride_placement_moves_the_stride_between_1x1_and_3x3() -> None:
    caffe = build_resnet(50, se=True, stride_placement="caffe")
    tv = build_resnet(50, se=True, stride_placement="torchvision")
    assert caffe.layer2[0].conv1.stride == (2, 2) and caffe.layer2[0].conv2.stride == (1, 1)
    assert tv.layer2[0].conv1.stride == (1, 1) and tv.layer2[0].conv2.stride == (2, 2)
    assert _shapes(caffe) == _shapes(tv)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        build_resnet(42, se=True)
    with pytest.raises(ValueError, match="stride_placement"):
        build_resnet(50, se=True, stride_placement="tf")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [32, 57, 224])
def test_forward_at_several_input_sizes(size: int) -> None:
    model = build_resnet(18, se=True, width=8, layers=(1, 1, 1, 1), num_classes=3).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2, 3)
