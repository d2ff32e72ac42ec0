from __future__ import annotations

import pytest
import torch

from se_deploy.models.se_block import SqueezeExcitation, reduced_channels


def test_reduced_channels_divides_and_never_reaches_zero() -> None:
    assert reduced_channels(256, 16) == 16
    assert reduced_channels(8, 16) == 1
    with pytest.raises(ValueError, match="reduction"):
        reduced_channels(64, 0)


def test_se_scales_each_channel_by_its_gate() -> None:
    torch.manual_seed(0)
    block = SqueezeExcitation(32, reduction=4).eval()
    x = torch.randn(2, 32, 5, 7)
    pooled = x.mean(dim=(2, 3))
    hidden = torch.relu(pooled @ block.fc1.weight.view(8, 32).T + block.fc1.bias)
    gate = torch.sigmoid(hidden @ block.fc2.weight.view(32, 8).T + block.fc2.bias)
    expected = x * gate[:, :, None, None]
    torch.testing.assert_close(block(x), expected)
    assert block.hidden == 8
