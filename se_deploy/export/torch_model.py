"""Zoo spec (+ checkpoint) -> the PyTorch model ``export`` exports, and its non-SE twin with shared weights.

Without a checkpoint the weights are random but seeded (``DEFAULT_SEED``): an export is reproducible.
"""

from __future__ import annotations

import torch
from torch import nn

from se_deploy.models.checkpoint import WeightsInfo, load_pretrained
from se_deploy.models.spec import ModelSpec

DEFAULT_SEED = 0


def build_model(
    spec: ModelSpec,
    weights: str | None = None,
    *,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    hub_cache_dir: str | None = None,
) -> tuple[nn.Module, WeightsInfo | None]:
    """The PyTorch model ``export`` exports: the checkpoint's weights, or seeded random ones."""
    if weights:
        return load_pretrained(
            spec, weights, num_classes=num_classes, se_reduction=se_reduction, hub_cache_dir=hub_cache_dir
        )
    torch.manual_seed(DEFAULT_SEED)  # reproducible random weights
    return spec.build(num_classes=num_classes, se_reduction=se_reduction).eval(), None


def build_twin(twin_spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The twin with every weight it shares with ``model`` copied over (SE weights stay fresh or dropped)."""
    torch.manual_seed(DEFAULT_SEED)
    twin = twin_spec.build(num_classes=spec_num_classes(model)).eval()
    source = model.state_dict()
    target = twin.state_dict()
    shared = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    twin.load_state_dict(shared, strict=False)
    return twin


def spec_num_classes(model: nn.Module) -> int:
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linear[-1].out_features if linear else 0
