from __future__ import annotations

import pytest
import torch

from se_deploy.errors import InvalidArgumentError, UnknownModelError
from se_deploy.models import create_model, get_spec, list_models, twin_of


def test_resnet_family_and_twins_are_registered() -> None:
    names = list_models()
    for depth in (18, 34, 50, 101, 152):
        for suffix in ("", "_tv"):
            assert twin_of(f"se_resnet{depth}{suffix}") == f"resnet{depth}{suffix}"
            assert twin_of(f"resnet{depth}{suffix}") == f"se_resnet{depth}{suffix}"
            assert f"se_resnet{depth}{suffix}" in names
    assert "se_resnet_tiny" not in names
    assert "se_resnet_tiny" in list_models(include_tiny=True)


def test_every_twin_pair_points_both_ways() -> None:
    for name in list_models(include_tiny=True):
        spec = get_spec(name)
        twin = get_spec(spec.twin)
        assert twin.twin == name and twin.has_se != spec.has_se


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="se_resnet50") as info:
        get_spec("se_resnt50")
    assert "list-models" in str(info.value)


def test_create_model_builds_in_eval_mode_with_options() -> None:
    model = create_model("se_resnet_tiny", num_classes=3, se_reduction=2)
    assert not model.training
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3)
    assert model.layer1[0].se.hidden == 16


def test_pretrained_true_explains_that_no_weights_ship() -> None:
    with pytest.raises(InvalidArgumentError, match="ships no weights"):
        create_model("se_resnet50", pretrained=True)


def test_se_reduction_on_a_twin_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="no SE blocks"):
        create_model("resnet_tiny", se_reduction=4)
