"""Zoo spec (+ checkpoint) -> the PyTorch model ``export`` exports, and its non-SE twin with shared weights.

Without a checkpoint the weights are random but seeded (``DEFAULT_SEED``): an export is reproducible. Their
BatchNorm statistics are fitted to the model (see ``random_weights``) so that they behave like trained ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from se_deploy.export.random_weights import fit_batch_norm_statistics, statistics_fact
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
    return random_model(spec, num_classes=num_classes, se_reduction=se_reduction), None


def random_model(
    spec: ModelSpec,
    *,
    seed: int = DEFAULT_SEED,
    num_classes: int | None = None,
    se_reduction: int | None = None,
    statistics: Mapping[str, int] | None = None,
    fit_statistics: bool = True,
) -> nn.Module:
    """Seeded random weights (reproducible) with BatchNorm statistics fitted as ``statistics`` says (the
    default: ``statistics_fact(spec.image_size, seed)``); ``fit_statistics=False`` for exports made before."""
    torch.manual_seed(seed)
    model = spec.build(num_classes=num_classes, se_reduction=se_reduction)
    if fit_statistics:
        fit = dict(statistics or statistics_fact(spec.image_size, seed))
        fit_batch_norm_statistics(model, fit["image_size"], seed=fit["seed"], batch=fit["images"])
    return model.eval()


def build_twin(twin_spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The twin with every weight it shares with ``model`` copied over (SE weights stay fresh or dropped).

    BatchNorm statistics included: the twin computes exactly what stripping SE from the exported model
    computes (tests/export/test_zoo_exports.py), so both baselines agree.
    """
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
