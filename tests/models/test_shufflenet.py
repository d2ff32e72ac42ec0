"""ShuffleNet v1 (g=3): channel shuffle, units, SE on the residual branch."""

from __future__ import annotations

import torch

from se_deploy.models import create_model
from se_deploy.models.shufflenet import ShuffleUnit, channel_shuffle


def test_channel_shuffle_interleaves_the_groups() -> None:
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]  # groups (0,1) (2,3) (4,5)
    assert channel_shuffle(channel_shuffle(x, 3), 2).flatten().tolist() == list(range(6))  # (g, n) then (n, g)


def test_units_follow_table_1_of_the_shufflenet_paper() -> None:
    with torch.device("meta"):
        model = create_model("se_shufflenet_g3")
    assert [len(s) for s in (model.stage2, model.stage3, model.stage4)] == [4, 8, 4]
    first = model.stage2[0]
    assert first.conv1.groups == 1 and model.stage2[1].conv1.groups == 3  # the first 1x1 sees only 24 channels
    assert first.conv3.out_channels == 240 - 24 and first.se.channels == 216  # SE before the concat
    assert model.stage3[1].se.channels == 480 and model.stage3[1].conv2.groups == 120  # depthwise
    assert model.fc.in_features == 960


def test_stride_two_concatenates_and_stride_one_adds() -> None:
    torch.manual_seed(0)
    down = ShuffleUnit(12, 24, 2, groups=3, se_reduction=4).eval()
    same = ShuffleUnit(24, 24, 1, groups=3, se_reduction=4).eval()
    x = torch.randn(1, 12, 8, 8)
    with torch.no_grad():
        y = down(x)
        torch.testing.assert_close(y[:, :12], torch.nn.functional.avg_pool2d(x, 3, 2, 1).relu())
        z = same(y)
    assert y.shape == (1, 24, 4, 4) and z.shape == y.shape


def test_random_weights_stay_well_conditioned() -> None:
    """Exports of untrained networks verify only if float32 and float64 agree (see _init_weights)."""
    torch.manual_seed(0)
    model = create_model("se_shufflenet_g3")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        single, double = model(x), model.double()(x.double())
    assert (single.double() - double).abs().max() <= 1e-5 * double.abs().max()
