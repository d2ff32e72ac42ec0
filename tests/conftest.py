"""Shared fixtures. Tests never reach a model hub: huggingface_hub is forced offline."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub

from pathlib import Path

import pytest
import torch

from se_deploy.models import create_model


@pytest.fixture
def tiny_se_model() -> torch.nn.Module:
    torch.manual_seed(1)
    return create_model("se_resnet_tiny")


@pytest.fixture
def tiny_weights(tmp_path: Path, tiny_se_model: torch.nn.Module) -> Path:
    """A plain state-dict checkpoint of ``se_resnet_tiny`` with non-trivial BN statistics."""
    _randomize_bn(tiny_se_model)
    path = tmp_path / "tiny.pth"
    torch.save(tiny_se_model.state_dict(), path)
    return path


def _randomize_bn(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
