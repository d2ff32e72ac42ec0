"""The zoo against the published figures (SENet Table 2; ResNet Table 1 for ResNet-18/34)."""

from __future__ import annotations

import pytest

from se_deploy.models import get_spec
from se_deploy.models.catalog import summarize

# torchvision's published parameter counts for the plain networks (placement does not change them).
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}
PAPER_MODELS = ["se_resnet50", "resnet50", "se_resnet101", "resnet101", "se_resnet152", "resnet152"]


@pytest.mark.parametrize("name", PAPER_MODELS)
def test_gmacs_within_one_percent_of_the_senet_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.paper_gmacs is not None
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.01)


@pytest.mark.parametrize("name", ["se_resnet50", "resnet50"])
def test_resnet50_params_within_one_percent_of_the_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.paper_params_m is not None
    assert summary.params / 1e6 == pytest.approx(summary.paper_params_m, rel=0.01)


@pytest.mark.parametrize("name", list(TORCHVISION_PARAMS))
def test_plain_params_equal_torchvision_exactly(name: str) -> None:
    assert summarize(get_spec(name)).params == TORCHVISION_PARAMS[name]
    assert summarize(get_spec(f"{name}_tv")).params == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("name", ["resnet18", "resnet34"])
def test_small_resnets_match_the_resnet_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    # The ResNet paper gives two significant figures (1.8 / 3.6 billion).
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.02)


def test_se_costs_about_a_third_of_a_percent_of_macs_in_the_paper_placement() -> None:
    se, base = summarize(get_spec("se_resnet50")), summarize(get_spec("resnet50"))
    assert 0.002 < se.macs / base.macs - 1 < 0.005
    assert 2.4e6 < se.params - base.params < 2.6e6


def test_torchvision_placement_costs_more_macs() -> None:
    assert summarize(get_spec("resnet50_tv")).macs / 1e9 == pytest.approx(4.09, rel=0.005)


RESNEXT = ["se_resnext50_32x4d", "resnext50_32x4d", "se_resnext101_32x4d", "resnext101_32x4d"]


@pytest.mark.parametrize("name", RESNEXT)
def test_resnext_gmacs_within_one_percent_of_the_senet_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.01)


def test_resnext_params_equal_torchvision_and_timm() -> None:
    assert summarize(get_spec("resnext50_32x4d")).params == 25_028_904  # torchvision resnext50_32x4d
    assert summarize(get_spec("resnext101_32x4d_tv")).params == 44_177_704  # timm resnext101_32x4d
    se, base = summarize(get_spec("se_resnext50_32x4d")), summarize(get_spec("resnext50_32x4d"))
    assert se.params - base.params == 2_530_992  # the same SE blocks as SE-ResNet-50


def test_resnext_styles_differ_only_in_the_stem_pool() -> None:
    import torch

    from se_deploy.models import create_model

    torch.manual_seed(0)
    caffe = create_model("se_resnext50_32x4d")
    tv = create_model("se_resnext50_32x4d_tv")
    assert caffe.maxpool.ceil_mode and caffe.maxpool.padding == 0 and tv.maxpool.padding == 1
    assert caffe.layer2[0].conv1.stride == (1, 1) and caffe.layer2[0].conv2.stride == (2, 2)
    assert caffe.layer2[0].conv2.groups == 32 and caffe.layer1[0].conv2.in_channels == 128


@pytest.mark.parametrize("name", ["se_mobilenet", "mobilenet"])
def test_mobilenet_matches_the_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.params / 1e6 == pytest.approx(summary.paper_params_m, rel=0.02)  # the paper gives 2 digits
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.01)


def test_vgg16_bn_matches_torchvision_and_the_paper() -> None:
    base, se = summarize(get_spec("vgg16_bn")), summarize(get_spec("se_vgg16_bn"))
    assert base.params == 138_365_992  # torchvision vgg16_bn
    assert base.macs / 1e9 == pytest.approx(15.47, rel=0.01) and se.macs / 1e9 == pytest.approx(15.48, rel=0.01)
    assert 0 < se.params - base.params < 0.3e6


@pytest.mark.parametrize("name", ["se_bn_inception", "bn_inception"])
def test_bn_inception_matches_the_paper(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.01)
    assert summarize(get_spec("bn_inception")).params == 11_295_240  # Cadene's bninception, conv biases included


@pytest.mark.parametrize("name", ["se_shufflenet_g3", "shufflenet_g3"])
def test_shufflenet_macs_match_and_params_are_the_papers_truncated(name: str) -> None:
    summary = summarize(get_spec(name))
    assert summary.macs / 1e9 == pytest.approx(summary.paper_gmacs, rel=0.02)
    # The paper prints 1.8M / 2.4M for 1.87M / 2.48M: truncation to one decimal, explained in list-models.
    assert summary.paper_params_m <= summary.params / 1e6 < summary.paper_params_m + 0.1
    assert "truncated" in summary.paper_note


def test_inception_resnet_v2_is_the_released_network_and_the_paper_gap_is_explained() -> None:
    base, se = summarize(get_spec("inception_resnet_v2")), summarize(get_spec("se_inception_resnet_v2"))
    assert base.image_size == se.image_size == 299
    assert base.macs / 1e9 == pytest.approx(13.16, rel=0.002)  # the figure the note quotes
    assert base.macs / 1e9 / base.paper_gmacs == pytest.approx(1.12, abs=0.005)  # the "+12%" the note quotes
    assert "13.16" in base.paper_note and "+12%" in base.paper_note and base.paper_note == se.paper_note
    assert 0.02e9 < se.macs - base.macs < 0.04e9  # "SE adds 0.03 G here"


def test_senet154_says_why_it_has_no_paper_figures() -> None:
    summary = summarize(get_spec("senet154"))
    assert summary.paper_gmacs is None and "no FLOPs" in summary.notes
    assert summary.macs / 1e9 == pytest.approx(20.71, rel=0.005)
