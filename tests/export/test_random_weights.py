"""Seeded random weights with fitted BatchNorm statistics behave like a trained network's."""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.export.random_weights import CALIBRATION_BATCH, fit_batch_norm_statistics
from se_deploy.export.torch_model import DEFAULT_SEED, build_model, build_twin
from se_deploy.image_like import image_like_inputs
from se_deploy.models import create_model
from se_deploy.models.registry import get_spec


def _float32_vs_float64(model: nn.Module, images: torch.Tensor) -> tuple[float, float]:
    """(max |logit| in float64, max float32 error relative to it)."""
    with torch.no_grad():
        single = model.float()(images).double()
        double = model.double()(images.double())
    model.float()
    scale = float(double.abs().max())
    return scale, float((single - double).abs().max()) / scale


def test_fitted_statistics_make_a_deep_random_network_well_conditioned() -> None:
    """SE-ResNet-152 with fresh BatchNorm is too ill-conditioned to verify; with fitted statistics it is not,
    on white noise (export verification) and on image-like inputs (the SE-native build's verification)."""
    noise = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    smooth = torch.from_numpy(image_like_inputs((2, 3, 64, 64), seed=1))
    torch.manual_seed(0)
    fresh = create_model("se_resnet152")
    torch.manual_seed(0)
    fitted = create_model("se_resnet152")
    assert fit_batch_norm_statistics(fitted, 64, seed=DEFAULT_SEED) == sum(
        isinstance(m, nn.BatchNorm2d) for m in fitted.modules()
    )
    fresh_scale, fresh_error = _float32_vs_float64(fresh, noise)
    assert fresh_scale > 100 and fresh_error > 1e-2  # what export verification used to reject (measured 0.13)
    for images in (noise, smooth):
        scale, error = _float32_vs_float64(fitted, images)
        assert scale < 100 and error < 1e-3  # export's rtol (measured 1.2e-4 and 1.4e-4)


def test_each_batch_norm_normalizes_the_calibration_images() -> None:
    torch.manual_seed(0)
    model = create_model("se_resnet_tiny")
    size = get_spec("se_resnet_tiny").image_size
    bn = model.bn1
    bn.weight.data.uniform_(0.5, 2.0)  # parameters must survive fitting
    weight = bn.weight.detach().clone()
    seen: list[torch.Tensor] = []
    handle = bn.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    fit_batch_norm_statistics(model, size, seed=3)
    handle.remove()
    assert not model.training and bn.momentum == 0.1 and torch.equal(bn.weight, weight)
    (calibration_input,) = seen
    assert calibration_input.shape[0] == CALIBRATION_BATCH
    torch.testing.assert_close(bn.running_mean, calibration_input.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn.running_var, calibration_input.var(dim=(0, 2, 3), unbiased=True))


def test_build_model_fits_statistics_only_for_random_weights() -> None:
    spec = get_spec("se_resnet_tiny")
    model, weights = build_model(spec)
    assert weights is None
    assert not torch.all(model.bn1.running_var == 1.0)  # fitted, not fresh
    again, _ = build_model(spec)
    assert torch.equal(again.bn1.running_var, model.bn1.running_var)  # seeded: reproducible


def test_the_twin_shares_the_fitted_statistics() -> None:
    """The twin is the SE model's network without SE, statistics included: stripping SE from the export
    computes what the exported twin computes (tests/export/test_zoo_exports.py checks that end to end)."""
    model, _ = build_model(get_spec("se_resnet_tiny"))
    twin = build_twin(get_spec("resnet_tiny"), model)
    assert torch.equal(twin.layer2[0].bn1.running_var, model.layer2[0].bn1.running_var)
    assert not torch.all(twin.layer2[0].bn1.running_var == 1.0)
